-- int_prepaid_replay: one row per step of every prepaid account's balance, in order:
-- per month of int_months, the month's transactions (accepted so far by
-- int_balance_transactions_deduped) in (occurred_at, line_number) order, then the
-- month's charge at the month's end. Contract §2.3:
--   - purchase, reload, redeem_code and adjustment add amount (an adjustment may be
--     negative); license_pack adds device_months x unit_price, rounded; refund removes amount;
--   - a transaction that would leave the balance below zero is a bad row: rejected, and
--     the balance stays as it was;
--   - the charge (HWM devices x unit_price, rounded) draws down min(max(balance, 0), charge).
-- The balance opens at 0 in the first month of int_months: every earlier month, and every
-- month of an account before its first data, has no transaction and no snapshot, so a
-- charge of 0 (HWM 0) and a balance of 0. The replay reads the whole input folder,
-- whatever the closed period, so every period's balances are the same in any close.
-- Set-based: one recursive step per balance step, for all accounts at once (the number
-- of iterations is the largest number of steps of one account, not the number of rows).
with recursive months as (
    select * from int_months
),

accounts as (
    select * from int_accounts
    where billing_model = 'prepaid'
),

usage as (
    select * from int_hwm_monthly
),

transactions as (
    select * from int_balance_transactions_deduped
    where row_status = 'accepted'
),

transaction_steps as (
    select
        transactions.account_id,
        date_trunc('month', transactions.occurred_at) as month_start,
        'transaction' as step_kind,
        transactions.occurred_at,
        transactions.line_number,
        transactions.txn_id,
        transactions.kind,
        cast(
            case transactions.kind
                when 'license_pack'
                    then round_money(transactions.device_months * accounts.unit_price, accounts.minor_unit)
                when 'refund' then -transactions.amount
                else transactions.amount
            end as decimal(18, 4)
        ) as delta,
        cast(null as decimal(18, 4)) as charge,
        cast(null as bigint) as devices
    from transactions
    inner join accounts on accounts.account_id = transactions.account_id
),

charge_steps as (
    select
        accounts.account_id,
        months.month_start,
        'charge' as step_kind,
        months.month_end as occurred_at,
        cast(null as bigint) as line_number,
        cast(null as varchar) as txn_id,
        cast(null as varchar) as kind,
        cast(null as decimal(18, 4)) as delta,
        cast(
            round_money(coalesce(usage.hwm, 0) * accounts.unit_price, accounts.minor_unit)
            as decimal(18, 4)
        ) as charge,
        cast(coalesce(usage.hwm, 0) as bigint) as devices
    from accounts
    cross join months
    left join usage
        on usage.account_id = accounts.account_id
        and usage.period = months.period
),

steps as (
    select
        *,
        row_number() over (
            partition by account_id
            order by month_start, step_kind = 'charge', occurred_at, line_number
        ) as step_no
    from (
        select * from transaction_steps
        union all
        select * from charge_steps
    )
),

replay as (
    select
        account_id,
        cast(0 as bigint) as step_no,
        cast(0 as decimal(18, 4)) as balance_after,
        false as is_rejected
    from accounts

    union all

    select
        steps.account_id,
        steps.step_no,
        cast(
            case
                when steps.step_kind = 'charge'
                    then replay.balance_after
                        - least(greatest(replay.balance_after, 0), steps.charge)
                when replay.balance_after + steps.delta < 0 then replay.balance_after
                else replay.balance_after + steps.delta
            end as decimal(18, 4)
        ) as balance_after,
        steps.step_kind = 'transaction' and replay.balance_after + steps.delta < 0
            as is_rejected
    from replay
    inner join steps
        on steps.account_id = replay.account_id
        and steps.step_no = replay.step_no + 1
),

final as (
    select
        steps.account_id,
        steps.step_no,
        strftime(steps.month_start, '%Y-%m') as period,
        steps.step_kind,
        steps.occurred_at,
        steps.line_number,
        steps.txn_id,
        steps.kind,
        steps.delta,
        steps.charge,
        steps.devices,
        before.balance_after as balance_before,
        replay.balance_after,
        replay.is_rejected,
        case when steps.step_kind = 'charge' then before.balance_after - replay.balance_after end
            as drawdown
    from steps
    inner join replay
        on replay.account_id = steps.account_id
        and replay.step_no = steps.step_no
    inner join replay as before
        on before.account_id = steps.account_id
        and before.step_no = steps.step_no - 1
)

select * from final
