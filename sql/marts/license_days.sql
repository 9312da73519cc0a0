-- license_days: one row per license with days counted in the closed period (contract
-- §2.2, §5), so a line "backup: 45 license-days" is answered by one query:
-- select * from license_days where account_id = ? and product = ?
-- issued_at / revoked_at (null = open) give the interval; first_day / last_day the days
-- of the period counted.
with days as (
    select * from int_license_days
),

final as (
    select period, account_id, license_id, product, days, issued_at, revoked_at, first_day, last_day
    from days
)

select * from final
