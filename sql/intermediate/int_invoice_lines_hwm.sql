-- int_invoice_lines_hwm: one row per invoice line of the closed period for hwm accounts.
-- Contract §2.1: C > 0 bills a base line of C x unit_price whatever the usage, and an
-- overage line of (HWM - C) x unit_price when HWM > C, for the whole month; C = 0
-- bills HWM x unit_price. Each line rounded once, half-up, to the currency's minor unit.
-- product and days_in_month are null: an hwm line is quantity x unit_price, whole month.
with params as (
    select * from close_params
),

accounts as (
    select * from int_accounts
    where billing_model = 'hwm'
),

usage as (
    select * from int_hwm_monthly
),

period_usage as (
    select usage.*
    from usage
    inner join params on params.period = usage.period
),

base_lines as (
    select
        params.period,
        accounts.account_id,
        'base' as invoice_type,
        1 as line_no,
        case
            when accounts.contracted_quantity > 0
                then 'Contracted ' || accounts.metric || ': ' || accounts.contracted_quantity
                    || ' for ' || strftime(params.period_start, '%B %Y')
            else accounts.metric || ' at the high-water mark of '
                || strftime(params.period_start, '%B %Y') || ': ' || coalesce(period_usage.hwm, 0)
        end as description,
        case
            when accounts.contracted_quantity > 0 then accounts.contracted_quantity
            else coalesce(period_usage.hwm, 0)
        end as quantity,
        accounts.unit_price,
        accounts.minor_unit
    from accounts
    cross join params
    left join period_usage on period_usage.account_id = accounts.account_id
),

overage_lines as (
    select
        params.period,
        accounts.account_id,
        'overage' as invoice_type,
        1 as line_no,
        'Overage: ' || (period_usage.hwm - accounts.contracted_quantity) || ' '
            || accounts.metric || ' above the ' || accounts.contracted_quantity
            || ' contracted (high-water mark ' || period_usage.hwm || ' reached '
            || strftime(period_usage.hwm_observed_at, '%Y-%m-%d %H:%M UTC') || '), '
            || strftime(params.period_start, '%B %Y') as description,
        period_usage.hwm - accounts.contracted_quantity as quantity,
        accounts.unit_price,
        accounts.minor_unit
    from accounts
    cross join params
    inner join period_usage on period_usage.account_id = accounts.account_id
    where accounts.contracted_quantity > 0
        and period_usage.hwm > accounts.contracted_quantity
),

final as (
    select
        period,
        account_id,
        invoice_type,
        line_no,
        description,
        cast(quantity as bigint) as quantity,
        unit_price,
        round_money(quantity * unit_price, minor_unit) as amount,
        cast(null as varchar) as hold_reason,
        cast(null as varchar) as product,
        cast(null as integer) as days_in_month
    from (
        select * from base_lines
        union all
        select * from overage_lines
    )
)

select * from final
