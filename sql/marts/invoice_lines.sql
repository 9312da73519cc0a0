-- invoice_lines: one row per line of an invoice of the closed period (contract §5).
-- Lines of a zero-total invoice are not kept: that invoice is not issued.
-- product and days_in_month are set on license_days lines only, where
-- amount = round(quantity x unit_price / days_in_month); on every other line
-- amount = round(quantity x unit_price) and both are null.
with lines as (
    select * from int_invoice_lines
),

invoices as (
    select * from build.invoices
),

final as (
    select
        lines.invoice_number,
        cast(lines.line_no as integer) as line_no,
        lines.description,
        lines.quantity,
        lines.unit_price,
        lines.amount,
        lines.period,
        lines.product,
        lines.days_in_month
    from lines
    inner join invoices on invoices.invoice_number = lines.invoice_number
)

select * from final
