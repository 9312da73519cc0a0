-- int_rejected_input_rows: one row per rejected row of every input file, with the
-- row's raw text (contract §4: file, line number, reason and the raw text).
-- The text comes from the raw_<file>_text views, read per file at the rejected rows'
-- line numbers only (`line_number in (...)`: DuckDB builds the semi-join on the
-- rejected side and filters the stored rows' scan with it), so only the rejected rows
-- are ever rendered. A plain join let the optimizer build on the 10M-row text side
-- when it guessed the rejected side larger, rendering every snapshot (5 s at 100k).
with rejected as (
    select source_table, line_number, account_id, row_date, reject_reason
    from int_input_rows
    where row_status = 'rejected'
),

unreadable as (
    select * from raw_unreadable_rows
),

texts as (
    select 'accounts' as source_table, line_number, raw_text
    from raw_accounts_text
    where line_number in (
        select line_number from rejected where source_table = 'accounts'
    )
    union all
    select 'license_prices' as source_table, line_number, raw_text
    from raw_license_prices_text
    where line_number in (
        select line_number from rejected where source_table = 'license_prices'
    )
    union all
    select 'usage_snapshots' as source_table, line_number, raw_text
    from raw_usage_snapshots_text
    where line_number in (
        select line_number from rejected where source_table = 'usage_snapshots'
    )
    union all
    select 'license_events' as source_table, line_number, raw_text
    from raw_license_events_text
    where line_number in (
        select line_number from rejected where source_table = 'license_events'
    )
    union all
    select 'balance_transactions' as source_table, line_number, raw_text
    from raw_balance_transactions_text
    where line_number in (
        select line_number from rejected where source_table = 'balance_transactions'
    )
    union all
    select 'billed_invoices' as source_table, line_number, raw_text
    from raw_billed_invoices_text
    where line_number in (
        select line_number from rejected where source_table = 'billed_invoices'
    )
    union all
    select 'payments' as source_table, line_number, raw_text
    from raw_payments_text
    where line_number in (
        select line_number from rejected where source_table = 'payments'
    )
),

final as (
    select rejected.*, texts.raw_text
    from rejected
    inner join texts
        on texts.source_table = rejected.source_table
        and texts.line_number = rejected.line_number
    union all
    select rejected.*, unreadable.raw_text
    from rejected
    inner join unreadable
        on unreadable.source_table = rejected.source_table
        and unreadable.line_number = rejected.line_number
)

select * from final
