-- int_license_events_deduped: one row per raw license_events row with its fate on its
-- own terms (contract §4): parse errors, unknown or rejected accounts, and duplicates
-- of event_id. The license sequence rules of §2.2 are applied after this, in
-- int_license_events_checked.
with events as (
    select * from stg_license_events
),

account_lookup as (
    select * from int_account_lookup
),

located as (
    select
        events.*,
        case
            when events.invalid_reason is not null then events.invalid_reason
            when account_lookup.account_id is null
                then 'unknown account ''' || events.account_id || ''''
            when not account_lookup.is_accepted
                then 'account ''' || events.account_id || ''' was rejected in accounts'
        end as row_reason
    from events
    left join account_lookup on account_lookup.account_id = events.account_id
),

keyed as (
    select
        line_number,
        struct_pack(event_id) as row_key,
        struct_pack(license_id, account_id, product, event, occurred_at, site) as row_values
    from located
    where row_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'license_events' as source_table,
        located.* exclude (row_reason),
        located.occurred_at as row_date,
        case
            when located.row_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when located.row_reason is not null then located.row_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate of event_id ''' || located.event_id
                    || ''' (an earlier row with other values stands)'
        end as reject_reason
    from located
    left join fates on fates.line_number = located.line_number
)

select * from final
