-- int_balance_transactions: one row per accepted balance transaction (UTC).
with checked as (
    select * from int_balance_transactions_checked
),

final as (
    select txn_id, account_id, occurred_at, kind, amount, device_months, code, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
