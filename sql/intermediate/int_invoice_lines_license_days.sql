-- int_invoice_lines_license_days: one row per invoice line of the closed period for
-- license_day accounts: one license_days invoice per account, a line per product (line_no
-- in product order). Contract §2.2: quantity = license-days (the sum over the account's
-- licenses of the product), amount = round(license_days x unit_price / days_in_month),
-- half-up to the currency's minor unit, unit_price from license_prices in the account's
-- currency. A product with no price in that currency cannot be priced: its line has no
-- amount and a hold_reason (the invoices mart keeps such an invoice, held).
-- product and days_in_month are carried so the line recomputes from its own row:
-- amount = round(quantity x unit_price / days_in_month).
-- Our reading of §4 for license_prices (undated rows that name no account): a rejected
-- license_prices row holds the license_days invoices with a line for its product, in its
-- currency (in every currency when its currency is blank or unknown; every product when
-- its product is blank).
with params as (
    select * from close_params
),

accounts as (
    select * from int_accounts
    where billing_model = 'license_day'
),

active_licenses as (
    select * from int_license_days
),

prices as (
    select * from int_license_prices
),

price_rows as (
    select * from int_license_prices_checked
),

currencies as (
    select * from ref_currencies
),

account_products as (
    select
        active_licenses.account_id,
        active_licenses.product,
        cast(sum(active_licenses.days) as bigint) as license_days
    from active_licenses
    group by active_licenses.account_id, active_licenses.product
),

rejected_prices as (
    select
        price_rows.product,
        case when currencies.currency is not null then price_rows.currency end as currency,
        price_rows.line_number,
        price_rows.reject_reason
    from price_rows
    left join currencies on currencies.currency = price_rows.currency
    where price_rows.row_status = 'rejected'
),

priced as (
    select
        params.period,
        params.period_start,
        params.days_in_month,
        account_products.account_id,
        account_products.product,
        account_products.license_days,
        accounts.currency,
        accounts.minor_unit,
        prices.unit_price,
        row_number() over (
            partition by account_products.account_id order by account_products.product
        ) as line_no
    from account_products
    cross join params
    inner join accounts on accounts.account_id = account_products.account_id
    left join prices
        on prices.product = account_products.product
        and prices.currency = accounts.currency
),

price_holds as (
    select
        priced.account_id,
        priced.product,
        string_agg(
            'license_prices line ' || rejected_prices.line_number || ' rejected ('
                || rejected_prices.reject_reason || ')',
            '; ' order by rejected_prices.line_number
        ) as hold_reason
    from priced
    inner join rejected_prices
        on (rejected_prices.product is null or rejected_prices.product = priced.product)
        and (rejected_prices.currency is null or rejected_prices.currency = priced.currency)
    group by priced.account_id, priced.product
),

described as (
    select
        priced.*,
        price_text(priced.unit_price, priced.minor_unit) as price_text
    from priced
),

final as (
    select
        described.period,
        described.account_id,
        'license_days' as invoice_type,
        cast(described.line_no as integer) as line_no,
        described.product || ': ' || described.license_days || ' license-days x '
            || coalesce(described.price_text, '(no price in ' || described.currency || ')')
            || ' / ' || described.days_in_month || ' days ('
            || strftime(described.period_start, '%B %Y') || ')' as description,
        described.license_days as quantity,
        cast(described.unit_price as decimal(18, 6)) as unit_price,
        case
            when described.unit_price is not null
                then div_round_money(
                    described.license_days * described.unit_price,
                    described.days_in_month,
                    described.minor_unit
                )
        end as amount,
        nullif(
            concat_ws(
                '; ',
                case
                    when described.unit_price is null
                        then 'no price for ' || described.product || ' in ' || described.currency
                end,
                price_holds.hold_reason
            ),
            ''
        ) as hold_reason,
        described.product,
        cast(described.days_in_month as integer) as days_in_month
    from described
    left join price_holds
        on price_holds.account_id = described.account_id
        and price_holds.product = described.product
)

select * from final
