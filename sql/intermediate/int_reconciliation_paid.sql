-- int_reconciliation_paid: one row per invoice_number named by an accepted payment dated
-- on or before the as-of date (contract §3: paid = payments dated on or before --as-of).
-- paid_at is a UTC instant and as_of a date, so "on or before" is paid_at < as_of + 1 day.
-- The sum is exact (payments carry up to 4 decimals); the mart rounds it to the minor
-- unit of the invoice it is applied to.
with params as (
    select * from close_params
),

payments as (
    select * from int_payments
),

final as (
    select
        payments.invoice_number,
        sum(payments.amount) as paid_amount,
        count(*) as payment_count,
        max(payments.paid_at) as last_paid_at
    from payments
    cross join params
    where payments.paid_at < cast(params.as_of as timestamp) + interval 1 day
    group by payments.invoice_number
)

select * from final
