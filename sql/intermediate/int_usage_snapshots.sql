-- int_usage_snapshots: one row per accepted usage snapshot (UTC).
-- materialized: view (the typed rows of stg_usage_snapshots but those set aside: no
-- second copy of 10M rows)
with snapshots as (
    select * from stg_usage_snapshots
),

set_aside as (
    select * from int_usage_snapshots_set_aside
),

final as (
    select
        snapshots.account_id,
        snapshots.observed_at,
        snapshots.metric,
        snapshots.quantity,
        snapshots.line_number
    from snapshots
    anti join set_aside on set_aside.line_number = snapshots.line_number
)

select * from final
