-- int_input_rows: one row per data row of every input file, with its fate
-- (accepted, duplicate, rejected) — the ledger behind rejected_rows and load_counts.
-- The row's raw text stays in raw_<file> (joined back for rejected rows only).
-- Contract §4: rows read = accepted + exact duplicates + rejected, per file.
-- materialized: view (a union of the checked models' columns: each reader scans only
-- what it needs instead of the build writing 11M ledger rows once more)
with accounts as (
    select * from int_accounts_checked
),

license_prices as (
    select * from int_license_prices_checked
),

usage_snapshots as (
    select * from int_usage_snapshots_checked
),

license_events as (
    select * from int_license_events_checked
),

balance_transactions as (
    select * from int_balance_transactions_checked
),

billed_invoices as (
    select * from int_billed_invoices_checked
),

payments as (
    select * from int_payments_checked
),

unreadable as (
    select * from raw_unreadable_rows
),

unioned as (
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from accounts
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from license_prices
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from usage_snapshots
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from license_events
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from balance_transactions
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from billed_invoices
    union all
    select source_table, line_number, account_id, row_date, row_status, reject_reason
    from payments
    union all
    select
        source_table,
        line_number,
        account_id,
        cast(null as timestamp) as row_date,
        'rejected' as row_status,
        reason as reject_reason
    from unreadable
),

final as (
    select * from unioned
)

select * from final
