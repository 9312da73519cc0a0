-- int_accounts_checked: one row per raw accounts row with its fate (contract §4):
-- accepted, duplicate (an exact copy of the row that stands) or rejected with a reason.
-- Key: account_id; the first valid row in file order stands.
with accounts as (
    select * from stg_accounts
),

ranked as (
    select
        *,
        first_value(
            struct_pack(
                account_id, account_name, billing_model, metric, unit_price,
                contracted_quantity, currency, payment_method, autopay_limit, billing_email
            )
        ) over by_key as standing_values,
        row_number() over by_key as key_rank
    from accounts
    where invalid_reason is null
    window by_key as (partition by account_id order by line_number)
),

fates as (
    select
        line_number,
        case
            when key_rank = 1 then 'accepted'
            when standing_values is not distinct from struct_pack(
                account_id, account_name, billing_model, metric, unit_price,
                contracted_quantity, currency, payment_method, autopay_limit, billing_email
            ) then 'duplicate'
            else 'rejected'
        end as row_status
    from ranked
),

final as (
    select
        'accounts' as source_table,
        accounts.*,
        cast(null as timestamp) as row_date,
        coalesce(fates.row_status, 'rejected') as row_status,
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
