-- accounts: one row per accepted account as this close saw it (contract §1, §5), with the
-- close's period, so an invoice's name, price, currency and payment terms can be explained
-- from the warehouse alone. Defaults of §1 are applied (blank contracted_quantity = 0,
-- currency = USD, autopay_limit = 4000.00, prepaid meters devices); line_number is the row's
-- line in the export (header = line 1).
with params as (
    select * from close_params
),

accepted as (
    select * from int_accounts
),

final as (
    select
        params.period,
        accepted.account_id,
        accepted.account_name,
        accepted.billing_model,
        accepted.metric,
        cast(accepted.unit_price as decimal(18, 6)) as unit_price,
        cast(accepted.contracted_quantity as bigint) as contracted_quantity,
        accepted.currency,
        accepted.payment_method,
        cast(accepted.autopay_limit as decimal(18, 6)) as autopay_limit,
        accepted.billing_email,
        cast(accepted.line_number as bigint) as line_number
    from accepted
    cross join params
)

select * from final
