-- int_billed_invoices: one row per accepted billed invoice.
with checked as (
    select * from int_billed_invoices_checked
),

final as (
    select invoice_number, account_id, period, currency, amount, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
