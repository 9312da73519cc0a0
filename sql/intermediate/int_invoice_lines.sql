-- int_invoice_lines: one row per invoice line of the closed period, every billing model,
-- numbered. Contract §2.4: invoice number <period>-<account_id>-<TYPE>.
with hwm_lines as (
    select * from int_invoice_lines_hwm
),

license_day_lines as (
    select * from int_invoice_lines_license_days
),

prepaid_lines as (
    select * from int_invoice_lines_prepaid
),

unioned as (
    select * from hwm_lines
    union all
    select * from license_day_lines
    union all
    select * from prepaid_lines
),

final as (
    select
        period || '-' || account_id || '-'
            || case invoice_type
                when 'base' then 'BASE'
                when 'overage' then 'OVERAGE'
                when 'license_days' then 'LICENSE'
                when 'prepaid_shortfall' then 'PREPAID'
            end as invoice_number,
        *
    from unioned
)

select * from final
