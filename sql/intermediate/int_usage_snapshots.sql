-- int_usage_snapshots: one row per accepted usage snapshot (UTC).
-- materialized: view (a filter of int_usage_snapshots_checked: no third copy of 10M rows)
with checked as (
    select * from int_usage_snapshots_checked
),

final as (
    select account_id, observed_at, metric, quantity, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
