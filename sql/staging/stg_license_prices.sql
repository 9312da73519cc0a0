-- stg_license_prices: one row per row of the license_prices export, typed.
-- Contract §1 (columns) and §2.2 (price per license per month in a currency).
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_license_prices
),

currencies as (
    select * from ref_currencies
),

typed as (
    select
        raw.line_number,
        raw.product,
        raw.currency,
        raw.unit_price as unit_price_text,
        parse_price(raw.unit_price) as unit_price,
        currencies.minor_unit
    from raw
    left join currencies on currencies.currency = raw.currency
),

final as (
    select
        *,
        case
            when product is null then 'product is blank'
            when currency is null then 'currency is blank'
            when minor_unit is null
                then 'currency ''' || currency || ''' is not one of USD, EUR, GBP, CAD, AUD, JPY'
            when unit_price_text is null then 'unit_price is blank'
            when unit_price is null
                then 'unit_price ''' || unit_price_text || ''' is not a decimal number'
            when unit_price < 0 then 'unit_price ''' || unit_price_text || ''' is negative'
        end as invalid_reason
    from typed
)

select * from final
