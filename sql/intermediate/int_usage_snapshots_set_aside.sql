-- int_usage_snapshots_set_aside: one row per usage_snapshots row that is not accepted:
-- rejected (with the reason) or an exact duplicate (contract §4).
-- Key: account_id + metric + observed_at (as a parsed UTC instant); the first valid
-- row in file order stands; rows of unknown or rejected accounts are rejected.
-- Only these rows are written (a handful at 10M snapshots): every other row of
-- stg_usage_snapshots is accepted, as int_usage_snapshots_checked shows.
-- The snapshots are scanned where used, not materialized as a CTE (DuckDB would keep a
-- copy of 10M rows for a CTE read twice).
with snapshots as not materialized (
    select * from stg_usage_snapshots
),

account_lookup as (
    select * from int_account_lookup
),

located as not materialized (
    select
        snapshots.line_number,
        snapshots.account_id,
        snapshots.observed_at,
        snapshots.metric,
        snapshots.quantity,
        case
            when snapshots.invalid_reason is not null then snapshots.invalid_reason
            when account_lookup.account_id is null
                then 'unknown account ''' || snapshots.account_id || ''''
            when not account_lookup.is_accepted
                then 'account ''' || snapshots.account_id || ''' was rejected in accounts'
        end as row_reason
    from snapshots
    left join account_lookup on account_lookup.account_id = snapshots.account_id
),

keyed as not materialized (
    select
        line_number,
        struct_pack(account_id, metric, observed_at) as row_key,
        struct_pack(quantity) as row_values
    from located
    where row_reason is null
),

fates as (
    select * from key_fates(keyed)
    where row_status <> 'accepted'
),

rejected as (
    select line_number, 'rejected' as row_status, row_reason as reject_reason
    from located
    where row_reason is not null
),

duplicates as (
    select
        fates.line_number,
        fates.row_status,
        case
            when fates.row_status = 'rejected'
                then 'conflicting duplicate snapshot: ' || snapshots.metric || ' at '
                    || strftime(snapshots.observed_at, '%Y-%m-%d %H:%M:%S UTC')
                    || ' already reported as ' || fates.standing_values.quantity
        end as reject_reason
    from fates
    inner join snapshots on snapshots.line_number = fates.line_number
),

final as (
    select * from rejected
    union all
    select * from duplicates
)

select * from final
