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

final as (
    select
        usage.period,
        usage.account_id,
        usage.metric,
        usage.carried_in_quantity,
        usage.hwm,
        usage.hwm_observed_at,
        case when accounts.billing_model = 'hwm' then accounts.contracted_quantity else 0 end
            as contracted_quantity,
        case
            when accounts.billing_model = 'hwm' and accounts.contracted_quantity > 0
                then greatest(usage.hwm - accounts.contracted_quantity, 0)
            else 0
        end as overage_quantity,
        accounts.currency,
        accounts.unit_price,
        round_money(
            case
                when accounts.billing_model = 'hwm' and accounts.contracted_quantity > 0
                    then greatest(usage.hwm - accounts.contracted_quantity, 0)
                else 0
            end * accounts.unit_price,
            accounts.minor_unit
        ) as overage_amount
    from usage
    inner join params on params.period = usage.period
    inner join accounts on accounts.account_id = usage.account_id
)

select * from final
