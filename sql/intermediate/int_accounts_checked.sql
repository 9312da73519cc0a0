-- int_accounts_checked: one row per raw accounts row with its fate (contract §4):
-- accepted, duplicate (an exact copy of the row that stands) or rejected with a reason.
-- Key: account_id; the first valid row in file order stands.
with accounts as (
    select * from stg_accounts
),

keyed as (
    select
        line_number,
        struct_pack(account_id) as row_key,
        struct_pack(
            account_name, billing_model, metric, unit_price, contracted_quantity,
            currency, payment_method, autopay_limit, billing_email
        ) as row_values
    from accounts
    where invalid_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'accounts' as source_table,
        accounts.*,
        cast(null as timestamp) as row_date,
        case
            when accounts.invalid_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when accounts.invalid_reason is not null then accounts.invalid_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate of account ''' || accounts.account_id
                    || ''' (an earlier row with other values stands)'
        end as reject_reason
    from accounts
    left join fates on fates.line_number = accounts.line_number
)

select * from final
