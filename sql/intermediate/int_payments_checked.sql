-- int_payments_checked: one row per raw payments row with its fate (contract §4).
-- Key: payment_id. Payments name no account, so they hold no invoice.
with payments as (
    select * from stg_payments
),

ranked as (
    select
        line_number,
        first_value(struct_pack(invoice_number, amount, paid_at)) over by_key as standing_values,
        struct_pack(invoice_number, amount, paid_at) as row_values,
        row_number() over by_key as key_rank
    from payments
    where invalid_reason is null
    window by_key as (partition by payment_id order by line_number)
),

fates as (
    select
        line_number,
        case
            when key_rank = 1 then 'accepted'
            when standing_values is not distinct from row_values then 'duplicate'
            else 'rejected'
        end as row_status
    from ranked
),

final as (
    select
        'payments' as source_table,
        payments.*,
        cast(null as varchar) as account_id,
        payments.paid_at as row_date,
        coalesce(fates.row_status, 'rejected') as row_status,
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
