-- int_balance_transactions_checked: one row per raw balance_transactions row with its
-- final fate. Contract §2.3 and §4: on top of int_balance_transactions_deduped, a
-- transaction that would leave the balance below zero, checked in the replay's order
-- (int_prepaid_replay: occurred_at, then file order, each month's charge at its end), is
-- rejected; a rejected transaction does not change the balance.
with deduped as (
    select * from int_balance_transactions_deduped
),

replay as (
    select * from int_prepaid_replay
    where step_kind = 'transaction' and is_rejected
),

accounts as (
    select * from int_accounts
),

reasons as (
    select
        replay.line_number,
        replay.kind || ' of '
            || money_text(abs(replay.delta), accounts.minor_unit)
            || ' ' || accounts.currency || ' on '
            || strftime(replay.occurred_at, '%Y-%m-%d %H:%M UTC')
            || ' would leave the balance below zero (balance then '
            || money_text(replay.balance_before, accounts.minor_unit)
            || ')' as reject_reason
    from replay
    inner join accounts on accounts.account_id = replay.account_id
),

final as (
    select
        deduped.* replace (
            case when reasons.line_number is not null then 'rejected' else deduped.row_status end
                as row_status,
            coalesce(deduped.reject_reason, reasons.reject_reason) as reject_reason
        )
    from deduped
    left join reasons on reasons.line_number = deduped.line_number
)

select * from final
