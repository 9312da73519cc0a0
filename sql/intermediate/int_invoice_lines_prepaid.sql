-- int_invoice_lines_prepaid: one row per invoice line of the closed period for prepaid
-- accounts. Contract §2.3: a shortfall > 0 gets a prepaid_shortfall invoice of one line,
-- quantity 1, amount = shortfall, its description naming the charge and the balance
-- applied, e.g. "October 2026: 25 devices x 4.00 = 100.00; balance applied 60.00;
-- shortfall 40.00". product and days_in_month are null (1 x shortfall = amount).
with params as (
    select * from close_params
),

monthly as (
    select * from int_prepaid_monthly
),

period_months as (
    select
        monthly.*,
        params.period_start,
        price_text(monthly.unit_price, monthly.minor_unit) as price_text,
        money_text(monthly.charge, monthly.minor_unit) as charge_text,
        money_text(monthly.drawdown, monthly.minor_unit) as drawdown_text,
        money_text(monthly.shortfall, monthly.minor_unit) as shortfall_text
    from monthly
    inner join params on params.period = monthly.period
    where monthly.shortfall > 0
),

final as (
    select
        period,
        account_id,
        'prepaid_shortfall' as invoice_type,
        1 as line_no,
        strftime(period_start, '%B %Y') || ': ' || devices || ' devices x ' || price_text
            || ' = ' || charge_text || '; balance applied ' || drawdown_text
            || '; shortfall ' || shortfall_text as description,
        cast(1 as bigint) as quantity,
        cast(shortfall as decimal(18, 6)) as unit_price,
        cast(shortfall as decimal(18, 2)) as amount,
        cast(null as varchar) as hold_reason,
        cast(null as varchar) as product,
        cast(null as integer) as days_in_month
    from period_months
)

select * from final
