-- stg_payments: one row per row of the payments export, typed (UTC). Contract §1 and §3.
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_payments
),

typed as (
    select
        line_number,
        payment_id,
        invoice_number,
        amount as amount_text,
        paid_at as paid_at_text,
        parse_money(amount) as amount,
        parse_utc(paid_at) as paid_at
    from raw
),

final as (
    select
        *,
        case
            when payment_id is null then 'payment_id is blank'
            when invoice_number is null then 'invoice_number is blank'
            when amount_text is null then 'amount is blank'
            when amount is null then 'amount ''' || amount_text || ''' is not a decimal number'
            when amount < 0 then 'amount ''' || amount_text || ''' is negative'
            when paid_at_text is null then 'paid_at is blank'
            when paid_at is null
                then 'paid_at ''' || paid_at_text || ''' is not an ISO 8601 timestamp'
        end as invalid_reason
    from typed
)

select * from final
