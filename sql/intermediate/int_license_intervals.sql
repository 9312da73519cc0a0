-- int_license_intervals: one row per issued license (contract §2.2): the account and
-- product its issue named, and the interval [issued_at, revoked_at) on which it is
-- active (revoked_at null = never revoked, open-ended). assigned, unassigned and
-- transferred change nothing in billing, so they do not appear here: a license moved
-- between sites is still one interval, its days counted once.
-- int_license_events_checked leaves at most one issued and one revoked per license,
-- the revoke after the issue and on the same account.
with events as (
    select * from int_license_events
),

issues as (
    select license_id, account_id, product, occurred_at, line_number
    from events
    where event = 'issued'
),

revokes as (
    select license_id, occurred_at, line_number
    from events
    where event = 'revoked'
),

final as (
    select
        issues.license_id,
        issues.account_id,
        issues.product,
        issues.occurred_at as issued_at,
        revokes.occurred_at as revoked_at,
        issues.line_number as issued_line_number,
        revokes.line_number as revoked_line_number
    from issues
    left join revokes on revokes.license_id = issues.license_id
)

select * from final
