-- int_license_prices_checked: one row per raw license_prices row with its fate (contract §4).
-- Key (our reading; the contract names none): product + currency.
with prices as (
    select * from stg_license_prices
),

ranked as (
    select
        *,
        first_value(unit_price) over by_key as standing_price,
        row_number() over by_key as key_rank
    from prices
    where invalid_reason is null
    window by_key as (partition by product, currency order by line_number)
),

fates as (
    select
        line_number,
        case
            when key_rank = 1 then 'accepted'
            when standing_price = unit_price then 'duplicate'
            else 'rejected'
        end as row_status
    from ranked
),

final as (
    select
        'license_prices' as source_table,
        prices.*,
        cast(null as varchar) as account_id,
        cast(null as timestamp) as row_date,
        coalesce(fates.row_status, 'rejected') as row_status,
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
