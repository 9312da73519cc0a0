-- stg_accounts: one row per row of the accounts export, typed, with the first
-- rule of contract §1 the row breaks on its own (invalid_reason, null when none).
-- Defaults of §1 applied here: blank contracted_quantity = 0, currency = USD,
-- autopay_limit = 4000.00; prepaid accounts always meter devices.
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_accounts
),

currencies as (
    select * from ref_currencies
),

typed as (
    select
        raw.line_number,
        raw.account_id,
        raw.account_name,
        raw.billing_model,
        raw.metric as metric_text,
        raw.unit_price as unit_price_text,
        raw.contracted_quantity as contracted_quantity_text,
        raw.currency as currency_text,
        raw.payment_method,
        raw.autopay_limit as autopay_limit_text,
        raw.billing_email,
        case
            when raw.billing_model = 'prepaid' and raw.metric is null then 'devices'
            else raw.metric
        end as metric,
        parse_price(raw.unit_price) as unit_price,
        coalesce(parse_count(raw.contracted_quantity), 0) as contracted_quantity,
        coalesce(raw.currency, 'USD') as currency,
        currencies.minor_unit,
        coalesce(parse_price(raw.autopay_limit), 4000.00) as autopay_limit
    from raw
    left join currencies on currencies.currency = coalesce(raw.currency, 'USD')
),

final as (
    select
        *,
        case
            when account_id is null then 'account_id is blank'
            when billing_model is null then 'billing_model is blank'
            when billing_model not in ('hwm', 'license_day', 'prepaid')
                then 'billing_model ''' || billing_model
                    || ''' is not one of hwm, license_day, prepaid'
            when billing_model = 'hwm' and (metric is null or metric not in ('users', 'devices'))
                then 'metric ''' || coalesce(metric, '') || ''' is not one of users, devices'
            when billing_model = 'prepaid' and metric <> 'devices'
                then 'metric ''' || metric || ''' is not devices (prepaid meters devices)'
            when billing_model in ('hwm', 'prepaid') and unit_price_text is null
                then 'unit_price is blank'
            when billing_model in ('hwm', 'prepaid') and unit_price is null
                then 'unit_price ''' || unit_price_text || ''' is not a decimal number'
            when billing_model in ('hwm', 'prepaid') and unit_price < 0
                then 'unit_price ''' || unit_price_text || ''' is negative'
            when billing_model = 'hwm' and contracted_quantity_text is not null
                and parse_count(contracted_quantity_text) is null
                then 'contracted_quantity ''' || contracted_quantity_text
                    || ''' is not a whole number >= 0'
            when minor_unit is null
                then 'currency ''' || currency || ''' is not one of USD, EUR, GBP, CAD, AUD, JPY'
            when payment_method is null then 'payment_method is blank'
            when payment_method not in ('card', 'invoice', 'none')
                then 'payment_method ''' || payment_method || ''' is not one of card, invoice, none'
            when autopay_limit_text is not null and parse_price(autopay_limit_text) is null
                then 'autopay_limit ''' || autopay_limit_text || ''' is not a decimal number'
            when autopay_limit < 0
                then 'autopay_limit ''' || autopay_limit_text || ''' is negative'
        end as invalid_reason
    from typed
)

select * from final
