-- int_reconciliation_unapplied_payments: one row per accepted payment of the closed period
-- (paid_at inside it, and on or before the as-of date) whose invoice_number matches no
-- invoice of any period (contract §3: listed in the period of its paid_at).
-- "Any period" (our reading, docs/validation.md): the invoices this close computed and the
-- billing system's invoices of every period (the export folder holds the full history).
-- Earlier closes' rows in main.invoices are not read: a build depends on its inputs only,
-- so the same folder always gives the same reconciliation (contract §5).
with params as (
    select * from close_params
),

payments as (
    select * from int_payments
),

computed as (
    select invoice_number from build.invoices
),

billed as (
    select invoice_number from int_billed_invoices
),

known_invoices as (
    select invoice_number from computed
    union
    select invoice_number from billed
),

final as (
    select
        params.period,
        payments.payment_id,
        payments.invoice_number,
        payments.amount,
        payments.paid_at,
        payments.line_number
    from payments
    cross join params
    where payments.paid_at >= params.period_start
        and payments.paid_at < params.period_end
        and payments.paid_at < cast(params.as_of as timestamp) + interval 1 day
        and payments.invoice_number not in (select invoice_number from known_invoices)
)

select * from final
