-- int_prepaid_monthly: one row per prepaid account and month of int_months.
-- Contract §2.3: credits = the net of the month's accepted transactions; available =
-- opening + credits; drawdown = min(max(available, 0), charge); shortfall = charge -
-- drawdown; closing = available - drawdown, the next month's opening. The numbers come
-- from the replay (int_prepaid_replay), which also decided which transactions stand.
-- charge = HWM devices (int_hwm_monthly) x unit_price, rounded to the minor unit.
with replay as (
    select * from int_prepaid_replay
),

accounts as (
    select * from int_accounts
    where billing_model = 'prepaid'
),

credits as (
    select account_id, period, sum(delta) as credits
    from replay
    where step_kind = 'transaction' and not is_rejected
    group by account_id, period
),

charges as (
    select
        replay.account_id,
        replay.period,
        replay.step_no,
        replay.devices,
        replay.charge,
        replay.drawdown,
        replay.balance_before as available,
        replay.balance_after as closing_balance
    from replay
    where replay.step_kind = 'charge'
),

final as (
    select
        charges.period,
        charges.account_id,
        cast(
            coalesce(
                lag(charges.closing_balance) over (
                    partition by charges.account_id order by charges.step_no
                ),
                0
            ) as decimal(18, 2)
        ) as opening_balance,
        cast(coalesce(credits.credits, 0) as decimal(18, 2)) as credits,
        cast(charges.available as decimal(18, 2)) as available,
        cast(charges.charge as decimal(18, 2)) as charge,
        cast(charges.drawdown as decimal(18, 2)) as drawdown,
        cast(charges.charge - charges.drawdown as decimal(18, 2)) as shortfall,
        cast(charges.closing_balance as decimal(18, 2)) as closing_balance,
        charges.devices,
        accounts.unit_price,
        accounts.currency,
        accounts.minor_unit
    from charges
    inner join accounts on accounts.account_id = charges.account_id
    left join credits
        on credits.account_id = charges.account_id
        and credits.period = charges.period
)

select * from final
