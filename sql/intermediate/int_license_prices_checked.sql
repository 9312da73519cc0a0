-- int_license_prices_checked: one row per raw license_prices row with its fate (contract §4).
-- Key (our reading; the contract names none): product + currency.
with prices as (
    select * from stg_license_prices
),

keyed as (
    select
        line_number,
        struct_pack(product, currency) as row_key,
        struct_pack(unit_price) as row_values
    from prices
    where invalid_reason is null
),

fates as (
    select * from key_fates(keyed)
),

final as (
    select
        'license_prices' as source_table,
        prices.*,
        cast(null as varchar) as account_id,
        cast(null as timestamp) as row_date,
        case
            when prices.invalid_reason is not null then 'rejected'
            else coalesce(fates.row_status, 'accepted')
        end as row_status,
        case
            when prices.invalid_reason is not null then prices.invalid_reason
            when fates.row_status = 'rejected'
                then 'conflicting duplicate price for ' || prices.product || ' in '
                    || prices.currency || ' (an earlier row with another price stands)'
        end as reject_reason
    from prices
    left join fates on fates.line_number = prices.line_number
)

select * from final
