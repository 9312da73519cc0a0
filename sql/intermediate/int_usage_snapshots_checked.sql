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

valid as (
    select line_number, account_id, metric, observed_at, quantity
    from located
    where row_reason is null
),

-- Only keys written more than once need ranking; at 10M rows, grouping first
-- is far cheaper than a window over every row.
repeated_keys as (
    select account_id, metric, observed_at
    from valid
    group by account_id, metric, observed_at
    having count(*) > 1
),

ranked as (
    select
        valid.line_number,
        valid.quantity,
        first_value(valid.quantity) over by_key as standing_quantity,
        row_number() over by_key as key_rank
    from valid
    semi join repeated_keys
        on repeated_keys.account_id = valid.account_id
        and repeated_keys.metric = valid.metric
        and repeated_keys.observed_at = valid.observed_at
    window by_key as (
        partition by valid.account_id, valid.metric, valid.observed_at
        order by valid.line_number
    )
),

fates as (
    select
        line_number,
        case
            when key_rank = 1 then 'accepted'
            when standing_quantity = quantity then 'duplicate'
            else 'rejected'
        end as row_status,
        standing_quantity
    from ranked
),

final as (
    select
        'usage_snapshots' as source_table,
        located.* exclude (row_reason),
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
                    || ' already reported as ' || fates.standing_quantity
        end as reject_reason
    from located
    left join fates on fates.line_number = located.line_number
)

select * from final
