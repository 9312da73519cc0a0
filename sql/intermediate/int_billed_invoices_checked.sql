-- int_billed_invoices_checked: one row per raw billed_invoices row with its fate (contract §4).
-- Key (our reading; the contract names none): invoice_number. Dated by its period.
with billed as (
    select * from stg_billed_invoices
),

account_lookup as (
    select * from int_account_lookup
),

located as (
    select
        billed.*,
        case
            when billed.invalid_reason is not null then billed.invalid_reason
            when account_lookup.account_id is null
                then 'unknown account ''' || billed.account_id || ''''
            when not account_lookup.is_accepted
                then 'account ''' || billed.account_id || ''' was rejected in accounts'
        end as row_reason
    from billed
    left join account_lookup on account_lookup.account_id = billed.account_id
),

keyed as (
    select
        line_number,
        struct_pack(invoice_number) as row_key,
        struct_pack(account_id, period, currency, amount) as row_values
    from located
    where row_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'billed_invoices' as source_table,
        located.* exclude (row_reason),
        located.period_start as row_date,
        case
            when located.row_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when located.row_reason is not null then located.row_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate of invoice ''' || located.invoice_number
                    || ''' (an earlier row with other values stands)'
        end as reject_reason
    from located
    left join fates on fates.line_number = located.line_number
)

select * from final
