-- hwm_usage: one row per hwm or prepaid account for the closed period (contract §2.1, §5).
-- overage_quantity = HWM - contracted where positive (hwm accounts with a contract).
with params as (
    select * from close_params
),

usage as (
    select * from int_hwm_monthly
),

accounts as (
    select * from int_accounts
),

with_overage as (
    select
        usage.*,
        accounts.billing_model,
        accounts.currency,
        accounts.unit_price,
        accounts.minor_unit,
        case when accounts.billing_model = 'hwm' then accounts.contracted_quantity else 0 end
            as contracted_quantity,
        case
            when accounts.billing_model = 'hwm' and accounts.contracted_quantity > 0
                then greatest(usage.hwm - accounts.contracted_quantity, 0)
            else 0
        end as overage_quantity
    from usage
    inner join params on params.period = usage.period
    inner join accounts on accounts.account_id = usage.account_id
),

final as (
    select
        period,
        account_id,
        metric,
        carried_in_quantity,
        hwm,
        hwm_observed_at,
        contracted_quantity,
        overage_quantity,
        currency,
        unit_price,
        round_money(overage_quantity * unit_price, minor_unit) as overage_amount
    from with_overage
)

select * from final
