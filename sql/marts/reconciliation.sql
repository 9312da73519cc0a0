-- reconciliation: one row per computed invoice of the closed period (held ones too), per
-- billed invoice of the period with no computed one, and per unapplied payment paid in the
-- period (contract §3, §5). No rows at all when billed_invoices was not given.
-- status: currency_mismatch (checked first), matched (amounts equal once each is rounded
-- half-up to its currency's minor unit), amount_mismatch, missing_in_billing_system,
-- unexpected_in_billing_system, unapplied_payment.
-- difference = computed - billed for matched (0) and amount_mismatch; null where there is no
-- pair in one currency to subtract. Paid, outstanding, days_overdue and aging_bucket are
-- null when payments was not given. outstanding = billed amount - paid (the computed total
-- where nothing was billed); days_overdue = as_of - due_date when outstanding > 0 and past
-- due, else 0; aging_bucket current, 1-30, 31-60, 61-90, 90+ (91 days or more).
with params as (
    select * from close_params
),

files as (
    select * from input_files
),

currencies as (
    select * from ref_currencies
),

computed as (
    select * from build.invoices
),

billed as (
    select * from int_billed_invoices
),

paid as (
    select * from int_reconciliation_paid
),

unapplied as (
    select * from int_reconciliation_unapplied_payments
),

given as (
    select
        count(*) filter (where source_table = 'billed_invoices') > 0 as billed_given,
        count(*) filter (where source_table = 'payments') > 0 as payments_given
    from files
),

period_billed as (
    select
        billed.invoice_number,
        billed.account_id,
        billed.currency,
        round_money(billed.amount, currencies.minor_unit) as billed_amount
    from billed
    cross join params
    inner join currencies on currencies.currency = billed.currency
    where billed.period = params.period
),

paired as (
    select
        coalesce(computed.invoice_number, period_billed.invoice_number) as invoice_number,
        computed.invoice_number is not null as is_computed,
        period_billed.invoice_number is not null as is_billed,
        computed.total as computed_amount,
        period_billed.billed_amount,
        coalesce(computed.account_id, period_billed.account_id) as account_id,
        coalesce(computed.currency, period_billed.currency) as currency,
        period_billed.currency as billed_currency,
        computed.invoice_type,
        computed.status as invoice_status,
        coalesce(computed.due_date, params.due_date) as due_date
    from computed
    full outer join period_billed on period_billed.invoice_number = computed.invoice_number
    cross join params
),

statused as (
    select
        paired.*,
        case
            when not is_billed then 'missing_in_billing_system'
            when not is_computed then 'unexpected_in_billing_system'
            when currency <> billed_currency then 'currency_mismatch'
            when computed_amount = billed_amount then 'matched'
            else 'amount_mismatch'
        end as status
    from paired
),

-- Payments are taken to be in the currency the customer was asked to pay: the billed
-- currency when the billing system invoiced it, else the computed invoice's currency.
settled as (
    select
        statused.*,
        currencies.minor_unit,
        case when given.payments_given
            then round_money(coalesce(paid.paid_amount, 0), currencies.minor_unit)
        end as paid_amount,
        coalesce(statused.billed_amount, statused.computed_amount) as amount_due
    from statused
    cross join given
    inner join currencies on currencies.currency = coalesce(statused.billed_currency, statused.currency)
    left join paid on paid.invoice_number = statused.invoice_number
),

aged as (
    select
        settled.*,
        amount_due - paid_amount as outstanding,
        case
            when paid_amount is null then null
            when amount_due - paid_amount > 0 and params.as_of > settled.due_date
                then cast(date_diff('day', settled.due_date, params.as_of) as integer)
            else 0
        end as days_overdue
    from settled
    cross join params
),

invoice_rows as (
    select
        params.period,
        aged.invoice_number,
        aged.status,
        aged.computed_amount,
        aged.billed_amount,
        case
            when aged.status in ('matched', 'amount_mismatch')
                then cast(aged.computed_amount - aged.billed_amount as decimal(18, 2))
        end as difference,
        aged.paid_amount,
        cast(aged.outstanding as decimal(18, 2)) as outstanding,
        aged.days_overdue,
        case
            when aged.days_overdue is null then null
            when aged.days_overdue = 0 then 'current'
            when aged.days_overdue <= 30 then '1-30'
            when aged.days_overdue <= 60 then '31-60'
            when aged.days_overdue <= 90 then '61-90'
            else '90+'
        end as aging_bucket,
        aged.account_id,
        aged.currency,
        aged.due_date,
        aged.billed_currency,
        aged.invoice_type,
        aged.invoice_status,
        cast(null as varchar) as payment_id,
        cast(null as timestamp) as paid_at,
        params.as_of
    from aged
    cross join params
),

-- A payment names no account and carries no currency: both stay null rather than guessed;
-- its amount is shown to 2 decimals.
payment_rows as (
    select
        unapplied.period,
        unapplied.invoice_number,
        'unapplied_payment' as status,
        cast(null as decimal(18, 2)) as computed_amount,
        cast(null as decimal(18, 2)) as billed_amount,
        cast(null as decimal(18, 2)) as difference,
        round_money(unapplied.amount, 2) as paid_amount,
        cast(null as decimal(18, 2)) as outstanding,
        cast(null as integer) as days_overdue,
        cast(null as varchar) as aging_bucket,
        cast(null as varchar) as account_id,
        cast(null as varchar) as currency,
        cast(null as date) as due_date,
        cast(null as varchar) as billed_currency,
        cast(null as varchar) as invoice_type,
        cast(null as varchar) as invoice_status,
        unapplied.payment_id,
        unapplied.paid_at,
        params.as_of
    from unapplied
    cross join params
),

final as (
    select rows.*
    from (
        select * from invoice_rows
        union all
        select * from payment_rows
    ) as rows
    cross join given
    where given.billed_given
    order by
        rows.status = 'unapplied_payment',
        rows.invoice_number,
        rows.payment_id
)

select * from final
