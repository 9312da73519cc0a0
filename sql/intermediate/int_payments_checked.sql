-- int_payments_checked: one row per raw payments row with its fate (contract §4).
-- Key: payment_id. Payments name no account, so they hold no invoice.
with payments as (
    select * from stg_payments
),

keyed as (
    select
        line_number,
        struct_pack(payment_id) as row_key,
        struct_pack(invoice_number, amount, paid_at) as row_values
    from payments
    where invalid_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'payments' as source_table,
        payments.*,
        cast(null as varchar) as account_id,
        payments.paid_at as row_date,
        case
            when payments.invalid_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when payments.invalid_reason is not null then payments.invalid_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate of payment_id ''' || payments.payment_id
                    || ''' (an earlier row with other values stands)'
        end as reject_reason
    from payments
    left join fates on fates.line_number = payments.line_number
)

select * from final
