-- int_balance_transactions_deduped: one row per raw balance_transactions row with its
-- fate on its own terms (contract §4): parse errors, unknown or rejected accounts, a
-- transaction on an account that is not prepaid, an amount finer than the account's
-- currency (10.125 USD, 100.5 JPY: never rounded on the way in), and duplicates of txn_id. The rule
-- "a transaction that would leave the balance below zero" is applied after this,
-- in int_balance_transactions_checked.
with transactions as (
    select * from stg_balance_transactions
),

account_lookup as (
    select * from int_account_lookup
),

accounts as (
    select * from int_accounts
),

located as (
    select
        transactions.*,
        case
            when transactions.invalid_reason is not null then transactions.invalid_reason
            when account_lookup.account_id is null
                then 'unknown account ''' || transactions.account_id || ''''
            when not account_lookup.is_accepted
                then 'account ''' || transactions.account_id || ''' was rejected in accounts'
            when accounts.billing_model <> 'prepaid'
                then 'account ''' || transactions.account_id || ''' is not a prepaid account'
            when transactions.amount is not null
                and transactions.amount <> round_money(transactions.amount, accounts.minor_unit)
                then 'amount ''' || transactions.amount_text || ''' has more decimals than '
                    || accounts.currency || ' allows'
        end as row_reason
    from transactions
    left join account_lookup on account_lookup.account_id = transactions.account_id
    left join accounts on accounts.account_id = transactions.account_id
),

keyed as (
    select
        line_number,
        struct_pack(txn_id) as row_key,
        struct_pack(account_id, occurred_at, kind, amount, device_months, code) as row_values
    from located
    where row_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'balance_transactions' as source_table,
        located.* exclude (row_reason),
        located.occurred_at as row_date,
        case
            when located.row_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when located.row_reason is not null then located.row_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate of txn_id ''' || located.txn_id
                    || ''' (an earlier row with other values stands)'
        end as reject_reason
    from located
    left join fates on fates.line_number = located.line_number
)

select * from final
