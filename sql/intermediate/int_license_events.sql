-- int_license_events: one row per accepted license event (UTC).
with checked as (
    select * from int_license_events_checked
),

final as (
    select event_id, license_id, account_id, product, event, occurred_at, site, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
