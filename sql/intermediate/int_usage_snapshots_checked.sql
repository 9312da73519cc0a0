-- int_usage_snapshots_checked: one row per raw usage_snapshots row with its fate (contract §4).
-- materialized: view (the typed rows of stg_usage_snapshots with the fate of the few
-- set aside: every other row is accepted; no second copy of 10M rows)
with snapshots as (
    select * from stg_usage_snapshots
),

set_aside as (
    select * from int_usage_snapshots_set_aside
),

final as (
    select
        'usage_snapshots' as source_table,
        snapshots.line_number,
        snapshots.account_id,
        snapshots.observed_at,
        snapshots.metric,
        snapshots.quantity,
        snapshots.observed_at as row_date,
        coalesce(set_aside.row_status, 'accepted') as row_status,
        set_aside.reject_reason
    from snapshots
    left join set_aside on set_aside.line_number = snapshots.line_number
)

select * from final
