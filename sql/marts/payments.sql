-- payments: one row per accepted payment as this close saw it (contract §1, §3, §5), every
-- date of the folder (after the as-of date too: ar_aging and reconciliation count only
-- those paid on or before it), with the close's period. paid_at is UTC.
-- No rows when payments was not given.
with params as (
    select * from close_params
),

accepted as (
    select * from int_payments
),

final as (
    select
        params.period,
        accepted.payment_id,
        accepted.invoice_number,
        cast(accepted.amount as decimal(18, 4)) as amount,
        accepted.paid_at,
        cast(accepted.line_number as bigint) as line_number
    from accepted
    cross join params
)

select * from final
