-- int_usage_snapshots_checked: one row per raw usage_snapshots row with its fate (contract §4).
-- Key: account_id + metric + observed_at (as a parsed UTC instant); the first valid
-- row in file order stands; rows of unknown or rejected accounts are rejected.
with snapshots as (
    select * from stg_usage_snapshots
),

account_lookup as (
    select * from int_account_lookup
),

located as (
    select
        snapshots.*,
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

keyed as (
    select
        line_number,
        struct_pack(account_id, metric, observed_at) as row_key,
        struct_pack(quantity) as row_values
    from located
    where row_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    -- Typed columns only: the text forms stay in the stg_usage_snapshots view (writing
    -- them again for 10M rows cost more than the query).
    select
        'usage_snapshots' as source_table,
        located.line_number,
        located.account_id,
        located.observed_at,
        located.metric,
        located.quantity,
        located.observed_at as row_date,
        case
            when located.row_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when located.row_reason is not null then located.row_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate snapshot: ' || located.metric || ' at '
                    || strftime(located.observed_at, '%Y-%m-%d %H:%M:%S UTC')
                    || ' already reported as ' || fates.standing_values.quantity
        end as reject_reason
    from located
    left join fates on fates.line_number = located.line_number
)

select * from final
