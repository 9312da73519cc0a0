-- prepaid_balances: one row per prepaid account for the closed period (contract §2.3, §5):
-- the month's balance statement, runway_months = floor(closing / charge) (null when the
-- charge is 0; integer division of minor units, no floating point), and what prepaying
-- 12, 24 and 36 months costs at this month's devices (devices x months x unit_price,
-- rounded, as Jamf tells its customers).
with params as (
    select * from close_params
),

monthly as (
    select * from int_prepaid_monthly
),

final as (
    select
        monthly.period,
        monthly.account_id,
        monthly.opening_balance,
        monthly.credits,
        monthly.charge,
        monthly.drawdown,
        monthly.shortfall,
        monthly.closing_balance,
        case
            when monthly.charge > 0
                then cast(
                    cast(monthly.closing_balance * 100 as hugeint)
                    // cast(monthly.charge * 100 as hugeint)
                as bigint)
        end as runway_months,
        monthly.currency,
        monthly.devices,
        monthly.unit_price,
        round_money(monthly.devices * 12 * monthly.unit_price, monthly.minor_unit) as prepay_12_months,
        round_money(monthly.devices * 24 * monthly.unit_price, monthly.minor_unit) as prepay_24_months,
        round_money(monthly.devices * 36 * monthly.unit_price, monthly.minor_unit) as prepay_36_months
    from monthly
    inner join params on params.period = monthly.period
)

select * from final
