-- int_payments: one row per accepted payment (UTC).
with checked as (
    select * from int_payments_checked
),

final as (
    select payment_id, invoice_number, amount, paid_at, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
