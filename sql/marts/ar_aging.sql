-- ar_aging: one row per billed invoice of the closed period or earlier that is still open
-- (or overpaid) as of the as-of date (contract §3.1, §5). No rows unless both
-- billed_invoices and payments were given.
-- billed_amount: the billed amount rounded half-up to its currency's minor unit;
-- paid_amount: its payments dated on or before the as-of date (paid_at < as_of + 1 day),
-- summed, then rounded the same way; outstanding = billed_amount - paid_amount, and a row
-- exists only where it is not zero. due_date is that of the invoice's own period (§2.4: the
-- 3rd of the next month + 30 days). days_overdue = as_of - due_date when outstanding > 0
-- and past due, else 0; aging_bucket current, 1-30, 31-60, 61-90, 90+ (91 days or more), or
-- credit (0 days) when outstanding < 0 (overpaid). Payments carry no currency: they are
-- taken to be in the billed invoice's currency, as in reconciliation.
with params as (
    select * from close_params
),

files as (
    select * from input_files
),

currencies as (
    select * from ref_currencies
),

billed as (
    select * from int_billed_invoices
),

paid as (
    select * from int_reconciliation_paid
),

given as (
    select
        count(*) filter (where source_table = 'billed_invoices') > 0
        and count(*) filter (where source_table = 'payments') > 0 as both_given
    from files
),

receivables as (
    select
        billed.invoice_number,
        billed.account_id,
        billed.period as invoice_period,
        billed.currency,
        round_money(billed.amount, currencies.minor_unit) as billed_amount,
        round_money(coalesce(paid.paid_amount, 0), currencies.minor_unit) as paid_amount,
        paid.last_paid_at,
        cast(
            date_trunc('month', cast(billed.period || '-01' as date)) + interval 1 month
            + interval 2 day + interval 30 day
        as date) as due_date
    from billed
    cross join params
    inner join currencies on currencies.currency = billed.currency
    left join paid on paid.invoice_number = billed.invoice_number
    where billed.period <= params.period
),

aged as (
    select
        receivables.*,
        cast(receivables.billed_amount - receivables.paid_amount as decimal(18, 2))
            as outstanding,
        case
            when receivables.billed_amount - receivables.paid_amount > 0
                and params.as_of > receivables.due_date
                then cast(date_diff('day', receivables.due_date, params.as_of) as integer)
            else 0
        end as days_overdue,
        params.as_of
    from receivables
    cross join params
    where receivables.billed_amount <> receivables.paid_amount
),

final as (
    select
        params.period,
        aged.invoice_number,
        aged.account_id,
        aged.invoice_period,
        aged.currency,
        aged.billed_amount,
        aged.paid_amount,
        aged.outstanding,
        aged.due_date,
        aged.days_overdue,
        case
            when aged.outstanding < 0 then 'credit'
            when aged.days_overdue = 0 then 'current'
            when aged.days_overdue <= 30 then '1-30'
            when aged.days_overdue <= 60 then '31-60'
            when aged.days_overdue <= 90 then '61-90'
            else '90+'
        end as aging_bucket,
        aged.as_of,
        aged.last_paid_at
    from aged
    cross join params
    cross join given
    where given.both_given
)

select * from final
