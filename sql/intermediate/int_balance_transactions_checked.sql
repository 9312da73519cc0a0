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
            || case
                when accounts.minor_unit = 0
                    then cast(cast(abs(replay.delta) as decimal(18, 0)) as varchar)
                else cast(cast(abs(replay.delta) as decimal(18, 2)) as varchar)
            end
            || ' ' || accounts.currency || ' on '
            || strftime(replay.occurred_at, '%Y-%m-%d %H:%M UTC')
            || ' would leave the balance below zero (balance then '
            || case
                when accounts.minor_unit = 0
                    then cast(cast(replay.balance_before as decimal(18, 0)) as varchar)
                else cast(cast(replay.balance_before as decimal(18, 2)) as varchar)
            end
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
