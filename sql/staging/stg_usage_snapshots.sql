-- stg_usage_snapshots: one row per row of the usage_snapshots export, typed (UTC), with
-- the reason a value cannot be used (null when every value parsed).
-- Contract §1 (quantity is an integer >= 0) and §4 (unparseable values are rejected).
-- materialized: view (the load parses observed_at and quantity with parse_utc and
-- parse_count as it reads the file and writes each row once, typed: a table here would
-- write 10M rows a second time. *_text is the text as written when it is not the typed
-- value's standard rendering, so a value that did not parse always has its text.)
with raw as (
    select * from raw_usage_snapshots
),

typed as (
    select
        line_number,
        account_id,
        observed_at_text,
        metric,
        quantity_text,
        observed_at_utc as observed_at,
        quantity_count as quantity
    from raw
),

final as (
    select
        line_number,
        account_id,
        observed_at,
        metric,
        quantity,
        case
            when account_id is null then 'account_id is blank'
            when observed_at is null and observed_at_text is null then 'observed_at is blank'
            when observed_at is null
                then 'observed_at ''' || observed_at_text || ''' is not an ISO 8601 timestamp'
            when metric is null then 'metric is blank'
            when metric not in ('users', 'devices')
                then 'metric ''' || metric || ''' is not one of users, devices'
            when quantity is null and quantity_text is null then 'quantity is blank'
            when quantity is null
                then 'quantity ''' || quantity_text || ''' is not a whole number >= 0'
        end as invalid_reason
    from typed
)

select * from final
