-- stg_billed_invoices: one row per row of the billed_invoices export (what the
-- billing system invoiced), typed. Contract §1 and §3.
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_billed_invoices
),

currencies as (
    select * from ref_currencies
),

typed as (
    select
        raw.line_number,
        raw.invoice_number,
        raw.account_id,
        raw.period,
        raw.currency,
        raw.amount as amount_text,
        parse_money(raw.amount) as amount,
        try_strptime(raw.period || '-01', '%Y-%m-%d') as period_start,
        currencies.minor_unit
    from raw
    left join currencies on currencies.currency = raw.currency
),

final as (
    select
        *,
        case
            when invoice_number is null then 'invoice_number is blank'
            when account_id is null then 'account_id is blank'
            when period is null then 'period is blank'
            when not regexp_full_match(period, '\d{4}-\d{2}') or period_start is null
                then 'period ''' || period || ''' is not YYYY-MM'
            when currency is null then 'currency is blank'
            when minor_unit is null
                then 'currency ''' || currency || ''' is not one of USD, EUR, GBP, CAD, AUD, JPY'
            when amount_text is null then 'amount is blank'
            when amount is null then 'amount ''' || amount_text || ''' is not a decimal number'
        end as invalid_reason
    from typed
)

select * from final
