-- int_accounts: one row per accepted account (contract §1, defaults applied).
with checked as (
    select * from int_accounts_checked
),

final as (
    select
        account_id,
        account_name,
        billing_model,
        metric,
        unit_price,
        contracted_quantity,
        currency,
        minor_unit,
        payment_method,
        autopay_limit,
        billing_email,
        line_number
    from checked
    where row_status = 'accepted'
)

select * from final
