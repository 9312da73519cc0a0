-- stg_license_events: one row per row of the license_events export, typed (UTC).
-- Contract §1 (columns, event names); the sequence rules of §2.2 come later.
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_license_events
),

typed as (
    select
        line_number,
        event_id,
        license_id,
        account_id,
        product,
        event,
        site,
        occurred_at as occurred_at_text,
        parse_utc(occurred_at) as occurred_at
    from raw
),

final as (
    select
        *,
        case
            when event_id is null then 'event_id is blank'
            when license_id is null then 'license_id is blank'
            when account_id is null then 'account_id is blank'
            when product is null then 'product is blank'
            when event is null then 'event is blank'
            when event not in ('issued', 'assigned', 'unassigned', 'transferred', 'revoked')
                then 'event ''' || event
                    || ''' is not one of issued, assigned, unassigned, transferred, revoked'
            when occurred_at_text is null then 'occurred_at is blank'
            when occurred_at is null
                then 'occurred_at ''' || occurred_at_text || ''' is not an ISO 8601 timestamp'
        end as invalid_reason
    from typed
)

select * from final
