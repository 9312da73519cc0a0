-- billed_invoices: one row per accepted row of the billing system's export as this close
-- saw it (contract §1, §3, §5), every period of the folder, with the close's period.
-- The row's own period is `invoice_period` (the close's is `period`); amount is as
-- exported (up to 4 decimals; reconciliation and ar_aging round it to the minor unit).
-- No rows when billed_invoices was not given.
with params as (
    select * from close_params
),

accepted as (
    select * from int_billed_invoices
),

final as (
    select
        params.period,
        accepted.invoice_number,
        accepted.account_id,
        accepted.period as invoice_period,
        accepted.currency,
        cast(accepted.amount as decimal(18, 4)) as amount,
        cast(accepted.line_number as bigint) as line_number
    from accepted
    cross join params
)

select * from final
