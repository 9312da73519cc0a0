-- int_license_prices: one row per product and currency with its accepted price (contract §2.2).
with checked as (
    select * from int_license_prices_checked
),

final as (
    select product, currency, unit_price, line_number
    from checked
    where row_status = 'accepted'
)

select * from final
