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

ranked as (
    select
        line_number,
        first_value(struct_pack(account_id, period, currency, amount)) over by_key
            as standing_values,
        struct_pack(account_id, period, currency, amount) as row_values,
        row_number() over by_key as key_rank
    from located
    where row_reason is null
    window by_key as (partition by invoice_number order by line_number)
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
        'billed_invoices' as source_table,
        located.* exclude (row_reason),
        located.period_start as row_date,
        coalesce(fates.row_status, 'rejected') as row_status,
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
