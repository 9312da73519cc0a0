-- monthly_revenue: one row per closed period, currency and invoice type (view over main).
-- Revenue invoiced = the totals of issued invoices: a held invoice is computed but not
-- issued, so it is not revenue until a later close issues it. Currencies are never
-- added together.
with issued as (
    select * from invoices
    where status = 'issued'
),

final as (
    select
        period,
        currency,
        invoice_type,
        count(*) as invoices,
        sum(total) as total
    from issued
    group by period, currency, invoice_type
)

select * from final
