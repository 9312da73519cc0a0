-- dso: one row per closed period and currency with billed invoices of the period, for
-- closes given both billed_invoices and payments (view over main).
-- Days sales outstanding, the standard period-end formula:
--   dso = receivables / billed x days_in_period
-- receivables = the positive outstanding of that close's ar_aging (every open invoice of
-- the period or earlier, as of its --as-of date; overpaid credits are not receivables);
-- billed = the billing system's invoices of the period itself, each rounded half-up to its
-- minor unit (JPY 0 decimals, the others 2); days_in_period = calendar days of the period.
-- Rounded half-up to 0.1 day on integers of hundredths (no floating point). Currencies are
-- never mixed.
with files as (
    select * from input_files
),

billed_rows as (
    select * from billed_invoices
),

aging as (
    select * from ar_aging
),

reconciled as (
    select * from reconciliation
),

aged_closes as (
    select period
    from files
    group by period
    having count(*) filter (where source_table = 'billed_invoices') > 0
        and count(*) filter (where source_table = 'payments') > 0
),

billed as (
    select
        billed_rows.period,
        billed_rows.currency,
        sum(
            case when billed_rows.currency = 'JPY'
                then round(billed_rows.amount, 0) else round(billed_rows.amount, 2)
            end
        ) as billed
    from billed_rows
    semi join aged_closes on aged_closes.period = billed_rows.period
    where billed_rows.invoice_period = billed_rows.period
    group by billed_rows.period, billed_rows.currency
),

receivables as (
    select
        period,
        currency,
        sum(outstanding) filter (where outstanding > 0) as receivables
    from aging
    group by period, currency
),

-- the close's --as-of date: on every reconciliation row of a close with billed invoices
as_of_dates as (
    select period, max(as_of) as as_of
    from reconciled
    group by period
),

combined as (
    select
        billed.period,
        billed.currency,
        as_of_dates.as_of,
        cast(coalesce(receivables.receivables, 0) as decimal(38, 2)) as receivables,
        cast(billed.billed as decimal(38, 2)) as billed,
        date_diff(
            'day',
            cast(billed.period || '-01' as date),
            cast(billed.period || '-01' as date) + interval 1 month
        ) as days_in_period
    from billed
    left join receivables
        on receivables.period = billed.period and receivables.currency = billed.currency
    left join as_of_dates on as_of_dates.period = billed.period
    where billed.billed > 0
),

final as (
    select
        period,
        currency,
        as_of,
        receivables,
        billed,
        days_in_period,
        cast(
            cast(
                (cast(receivables * 100 as hugeint) * days_in_period * 10 * 2
                    + cast(billed * 100 as hugeint))
                // (cast(billed * 100 as hugeint) * 2)
            as decimal(18, 0)) * 0.1
        as decimal(18, 1)) as dso
    from combined
)

select * from final
