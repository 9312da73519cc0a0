-- invoices: one row per invoice of the closed period (contract §2.4, §4, §5).
-- total = the sum of the invoice's rounded lines; a zero total issues no invoice, unless
-- a line could not be priced: that invoice is kept, held, so the gap is seen (§2.2).
-- Payment action: autopay when the account pays by card and the total is below its
-- autopay_limit, else send_invoice. Held (computed, shown, not issued) when the
-- account has a rejected row that touches the period or a line cannot be priced.
with params as (
    select * from close_params
),

lines as (
    select * from int_invoice_lines
),

accounts as (
    select * from int_accounts
),

holds as (
    select * from int_account_holds
),

totals as (
    select
        invoice_number,
        any_value(period) as period,
        any_value(account_id) as account_id,
        any_value(invoice_type) as invoice_type,
        cast(coalesce(sum(amount), 0) as decimal(18, 2)) as total,
        string_agg(distinct hold_reason, '; ' order by hold_reason) as line_hold_reason
    from lines
    group by invoice_number
),

final as (
    select
        totals.invoice_number,
        totals.period,
        totals.account_id,
        totals.invoice_type,
        accounts.currency,
        totals.total,
        params.invoice_date,
        params.due_date,
        case
            when accounts.payment_method = 'card' and totals.total < accounts.autopay_limit
                then 'autopay'
            else 'send_invoice'
        end as payment_action,
        case
            when totals.line_hold_reason is not null or holds.hold_reason is not null
                then 'held'
            else 'issued'
        end as status,
        nullif(concat_ws('; ', totals.line_hold_reason, holds.hold_reason), '') as hold_reason,
        accounts.billing_model = 'license_day' and accounts.payment_method = 'none'
            as issuing_paused,
        accounts.account_name,
        accounts.billing_email
    from totals
    cross join params
    inner join accounts on accounts.account_id = totals.account_id
    left join holds on holds.account_id = totals.account_id
    where totals.total <> 0 or totals.line_hold_reason is not null
)

select * from final
