-- int_license_days: one row per license active in the closed period (days > 0).
-- Contract §2.2: a day (UTC calendar day) counts when the license is active at any
-- instant of it, active meaning [issued_at, revoked_at). So:
--   - issued and revoked on the same day (at different instants): 1 day;
--   - issued and revoked at the same instant: an empty interval, 0 days (no row);
--   - revoked exactly at midnight: the day starting at that midnight is not counted;
--   - never revoked: active through the end of the period.
-- first_day and last_day are the first and last days counted in the period.
with params as (
    select * from close_params
),

intervals as (
    select * from int_license_intervals
),

clipped as (
    select
        intervals.*,
        params.period,
        greatest(intervals.issued_at, params.period_start) as active_from,
        least(coalesce(intervals.revoked_at, params.period_end), params.period_end) as active_until
    from intervals
    cross join params
),

final as (
    select
        period,
        account_id,
        license_id,
        product,
        issued_at,
        revoked_at,
        cast(active_from as date) as first_day,
        -- the day of the last active instant (active_until itself is excluded)
        cast(active_until - interval 1 microsecond as date) as last_day,
        cast(
            date_diff('day', cast(active_from as date), cast(active_until - interval 1 microsecond as date))
            + 1 as integer
        ) as days
    from clipped
    where active_from < active_until
)

select * from final
