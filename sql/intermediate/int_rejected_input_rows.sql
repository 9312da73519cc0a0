-- int_rejected_input_rows: one row per rejected row of every input file, with the
-- row's raw text (contract §4: file, line number, reason and the raw text).
with rejected as (
    select * from int_input_rows
    where row_status = 'rejected'
),

unreadable as (
    select * from raw_unreadable_rows
),

raw_texts as (
    select 'accounts' as source_table, line_number, raw_text from raw_accounts
    union all
    select 'license_prices', line_number, raw_text from raw_license_prices
    union all
    select 'usage_snapshots', line_number, raw_text from raw_usage_snapshots
    union all
    select 'license_events', line_number, raw_text from raw_license_events
    union all
    select 'balance_transactions', line_number, raw_text from raw_balance_transactions
    union all
    select 'billed_invoices', line_number, raw_text from raw_billed_invoices
    union all
    select 'payments', line_number, raw_text from raw_payments
    union all
    select source_table, line_number, raw_text from unreadable
),

final as (
    select
        rejected.source_table,
        rejected.line_number,
        rejected.account_id,
        rejected.row_date,
        rejected.reject_reason,
        raw_texts.raw_text
    from rejected
    left join raw_texts
        on raw_texts.source_table = rejected.source_table
        and raw_texts.line_number = rejected.line_number
)

select * from final
