-- overage_trend: one row per hwm account with a contract (C > 0) and closed period (view
-- over main). The change is against the account's previous closed period: the latest
-- earlier period in the warehouse where it had a contract (null for its first); an amount
-- change only when both periods are in the same currency (never across currencies).
with usage as (
    select * from hwm_usage
    where contracted_quantity > 0
),

with_previous as (
    select
        usage.*,
        lag(usage.period) over by_account as previous_period,
        lag(usage.overage_quantity) over by_account as previous_quantity,
        lag(usage.overage_amount) over by_account as previous_amount,
        lag(usage.currency) over by_account as previous_currency
    from usage
    window by_account as (partition by usage.account_id order by usage.period)
),

final as (
    select
        account_id,
        period,
        currency,
        contracted_quantity as contracted,
        hwm,
        overage_quantity,
        overage_amount,
        previous_period,
        overage_quantity - previous_quantity as overage_quantity_change,
        case
            when currency = previous_currency
                then cast(overage_amount - previous_amount as decimal(18, 2))
        end as overage_amount_change
    from with_previous
)

select * from final
