"""reconciliation.xlsx: what we computed vs what the billing system billed (contract 3).

Sheets: Cover; Summary (items and amounts per status and currency); Exceptions
(every row that is not `matched`, and every held invoice the billing system
billed anyway); AR aging (every open receivable of this period or earlier,
`main.ar_aging`, contract 3.1, under a per-currency bucket block and its
charts); Past-due accounts (the banner list: overdue and still owing); All
items (every reconciliation row).

Every formula that reads rows of another table finds them by key (status,
currency, account), never by position, so sorting any sheet changes no
figure; see `sheets.keyed_total`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import xlsxwriter.workbook
import xlsxwriter.worksheet
from xlsxwriter.utility import xl_col_to_name

from .cells import difference_cell
from .cover import document_properties, write_cover
from .formats import Formats, minor_unit, money_format
from .sheets import (
    Cell,
    Column,
    Date,
    Formula,
    Number,
    TableSheet,
    Text,
    atomic_workbook,
    countifs,
    keyed_total,
    plain_key,
    sumifs,
    summary_sheet,
    write_block,
)
from .warehouse import (
    RunInfo,
    account_names_sql,
    case_collisions,
    count_rows,
    display_name,
    fetch,
    load_cover_facts,
    stream,
    table_exists,
)

TITLE = "Reconciliation"
SUMMARY = "Summary"
EXCEPTIONS = "Exceptions"
AGING = "AR aging"
PAST_DUE = "Past-due accounts"
DETAIL = "All items"


STATUSES = (
    "matched",
    "amount_mismatch",
    "currency_mismatch",
    "missing_in_billing_system",
    "unexpected_in_billing_system",
    "unapplied_payment",
)
# Contract 3 and 3.1: the aging buckets, with the headers an accountant reads.
BUCKETS = {
    "current": "Current",
    "1-30": "1-30 days",
    "31-60": "31-60 days",
    "61-90": "61-90 days",
    "90+": "Over 90 days",
    "credit": "Credit (overpaid)",
}
NO_CURRENCY = "(none)"

ITEM_COLUMNS = (
    Column("Invoice number", 30),
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Currency", 9),
    Column("Status", 26),
    Column("Invoice status", 10),
    Column("Computed amount", 15, numeric=True),
    Column("Billed amount", 15, numeric=True),
    Column("Difference", 14, numeric=True),
    Column("Paid", 14, numeric=True),
    Column("Outstanding", 15, numeric=True),
    Column("Due date", 12, numeric=True),
    Column("Days overdue", 9, numeric=True),
    Column("Aging bucket", 9),
)
AGING_COLUMNS = (
    Column("Invoice number", 30),
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Invoice period", 14),  # wide enough for the bucket block above it
    Column("Currency", 14),
    Column("Billed amount", 15, numeric=True),
    Column("Paid", 14, numeric=True),
    Column("Outstanding", 15, numeric=True),
    Column("Due date", 12, numeric=True),
    Column("Days overdue", 9, numeric=True),
    Column("Aging bucket", 9),
)
AGING_BLOCK_HEADERS = ("Currency", *BUCKETS.values(), "Total outstanding")
PAST_DUE_COLUMNS = (
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Currency", 9),
    Column("Overdue invoices", 10, numeric=True),
    Column("Overdue outstanding", 18, numeric=True),
    Column("Most days overdue", 10, numeric=True),
    Column("Oldest due date", 12, numeric=True),
)
SUMMARY_HEADERS = (
    "Status",
    "Currency",
    "Items",
    "Computed amount",
    "Billed amount",
    "Difference",
    "Paid",
    "Outstanding",
)
SUMMARY_AMOUNTS = {
    "Computed amount": "computed_amount",
    "Billed amount": "billed_amount",
    "Difference": "difference",
    "Paid": "paid_amount",
    "Outstanding": "outstanding",
}

# Every column, so equal keys mean equal rows: the order is total.
ITEM_ORDER = (
    "invoice_number, status, account_id, currency, computed_amount, billed_amount, paid_amount, "
    "difference, outstanding, due_date, days_overdue, aging_bucket"
)
ORDER_DETAIL = f"account_id nulls last, currency nulls last, {ITEM_ORDER}"
ORDER_EXCEPTIONS = f"abs(difference) desc nulls last, {ITEM_ORDER}"
# Held by closebook but billed by the billing system: an exception whatever its status.
EXCEPTION_FILTER = "status <> 'matched' or invoice_status = 'held'"


def items_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The period's reconciliation rows with the invoice's own status and the account name.

    Bind the period twice.
    """
    if table_exists(con, "invoices"):
        invoices = "(select invoice_number, period, status from main.invoices)"
    else:
        invoices = (
            "(select null::varchar as invoice_number, null::varchar as period, "
            "null::varchar as status where false)"
        )
    return f"""
        select r.*, i.status as invoice_status,
               {display_name("n", "r.account_id")} as account_name
        from main.reconciliation r
        left join {invoices} i on i.invoice_number = r.invoice_number and i.period = r.period
        left join {account_names_sql(con)} n on n.account_id = r.account_id
        where r.period = ?
    """


def _item_row(item: dict[str, Any], fmts: Formats) -> list[Cell]:
    """One reconciliation row; difference and outstanding are formulas where they agree."""
    cur = item["currency"]
    m = minor_unit(cur)
    money = fmts.money(cur)
    computed, billed = item["computed_amount"], item["billed_amount"]
    paid, outstanding, difference = item["paid_amount"], item["outstanding"], item["difference"]
    diff_cell = difference_cell(computed, billed, difference, ("G", "H"), m, money)
    basis, column = (billed, "H") if billed is not None else (computed, "G")
    out_cell = difference_cell(basis, paid or 0, outstanding, (column, "J"), m, money)
    held = item["invoice_status"] == "held"
    text = fmts.text()
    return [
        Text(item["invoice_number"], text),
        Text(item["account_id"], text),
        Text(item["account_name"], fmts.text(wrap=True)),
        Text(cur, text),
        Text(item["status"], fmts.text(item["status"] != "matched")),
        Text(item["invoice_status"], fmts.text(True) if held else text),
        Number(computed, money),
        Number(billed, money),
        diff_cell,
        Number(paid, money),
        out_cell,
        Date(item["due_date"], fmts.date()),
        Number(item["days_overdue"], fmts.integer()),
        Text(item["aging_bucket"], text),
    ]


def _summary_rows(
    con: duckdb.DuckDBPyConnection, period: str, detail: TableSheet, fmts: Formats
) -> list[list[Cell]]:
    """Items and amounts per status and currency: SUMIFS on enums over All items."""
    amount_sums = ", ".join(f"coalesce(sum({col}), 0) as {col}" for col in SUMMARY_AMOUNTS.values())
    order = " ".join(f"when '{s}' then {i}" for i, s in enumerate(STATUSES))
    by_status = fetch(
        con,
        f"select status, currency, count(*) as items, {amount_sums} "
        "from main.reconciliation where period = ? group by status, currency "
        f"order by case status {order} else 99 end, status, currency nulls last",
        [period],
    )
    rows: list[list[Cell]] = []
    for index, item in enumerate(by_status):
        r = index + 2
        cur = item["currency"]
        crit = [("Status", f"$A{r}"), ("Currency", f"$B{r}" if cur is not None else '""')]
        money = fmts.money(cur)
        cells: list[Cell] = [
            Text(item["status"], fmts.text()),
            Text(cur if cur is not None else NO_CURRENCY, fmts.text()),
            Formula("=" + countifs(detail, crit), item["items"], fmts.integer()),
        ]
        for header, column in SUMMARY_AMOUNTS.items():
            cells.append(Formula("=" + sumifs(detail, header, crit), item[column], money))
        rows.append(cells)
    return rows


def _aging_currencies(con: duckdb.DuckDBPyConnection, period: str) -> list[dict[str, Any]]:
    """Outstanding per currency and bucket (the block above the AR aging table)."""
    if not table_exists(con, "ar_aging"):
        return []
    sums = ", ".join(
        f"coalesce(sum(outstanding) filter (where aging_bucket = '{b}'), 0) as \"{b}\""
        for b in BUCKETS
    )
    return fetch(
        con,
        f"select currency, {sums}, sum(outstanding) as total from main.ar_aging "
        "where period = ? group by currency order by currency",
        [period],
    )


def _bucket_sum(aging: TableSheet, currency_ref: str, bucket: str) -> str:
    """Outstanding of one currency in one bucket, over every part of the AR aging table.

    The bucket is compared with `=` in a SUMPRODUCT, never as a SUMIFS
    criterion, which would read "1-30" as a date; one cell per currency and
    bucket, so the whole-column scan stays small.
    """
    terms = []
    for index in range(len(aging.parts)):
        currency = aging.ranges("Currency", planned=True)[index]
        buckets = aging.ranges("Aging bucket", planned=True)[index]
        outstanding = aging.ranges("Outstanding", planned=True)[index]
        terms.append(
            f'SUMPRODUCT(EXACT({currency},{currency_ref})*({buckets}="{bucket}")*{outstanding})'
        )
    return "+".join(terms)


def _write_aging_block(
    workbook: xlsxwriter.workbook.Workbook,
    ws: xlsxwriter.worksheet.Worksheet,
    aging: TableSheet,
    currencies: list[dict[str, Any]],
    fmts: Formats,
) -> None:
    """Outstanding per currency and bucket above the table, and a chart per currency beside it.

    Written before the table's header (rows go out in order), over the ranges
    the table will have once its `expected_rows` are appended.
    """
    rows: list[list[Cell]] = []
    last = xl_col_to_name(len(BUCKETS))
    for index, item in enumerate(currencies):
        r = index + 2
        money = fmts.money(item["currency"], bold=True)
        cells: list[Cell] = [Text(item["currency"], fmts.text())]
        for bucket in BUCKETS:
            cells.append(Formula("=" + _bucket_sum(aging, f"$A{r}", bucket), item[bucket], money))
        cells.append(Formula(f"=SUM(B{r}:{last}{r})", item["total"], money))
        rows.append(cells)
    write_block(ws, 0, AGING_BLOCK_HEADERS, fmts, rows)
    name = aging.parts[0].name
    anchor_col = len(AGING_COLUMNS) + 1
    for index, item in enumerate(currencies):
        r = index + 1  # 0-based row of the currency's block row
        chart = workbook.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": f"{item['currency']} outstanding",
                "categories": [name, 0, 1, 0, len(BUCKETS)],
                "values": [name, r, 1, r, len(BUCKETS)],
                "data_labels": {"value": True, "num_format": money_format(item["currency"])},
            }
        )
        chart.set_title({"name": f"Receivables by aging bucket, {item['currency']}"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"num_format": money_format(item["currency"])})
        chart.set_size({"width": 520, "height": 260})
        ws.insert_chart(
            index * 14, anchor_col, chart, {"object_position": 3, "x_offset": 10, "y_offset": 10}
        )


def _write_aging(
    con: duckdb.DuckDBPyConnection, period: str, aging: TableSheet, fmts: Formats
) -> None:
    """Every open receivable (main.ar_aging), by account, currency and invoice."""
    if not table_exists(con, "ar_aging"):
        return
    sql = f"""
        select a.*, {display_name("n", "a.account_id")} as account_name
        from (select * from main.ar_aging where period = ?) a
        left join {account_names_sql(con)} n on n.account_id = a.account_id
        order by a.account_id, a.currency, a.invoice_period, a.invoice_number
    """
    for item in stream(con, sql, [period, period]):
        cur = item["currency"]
        money = fmts.money(cur)
        billed, paid, outstanding = item["billed_amount"], item["paid_amount"], item["outstanding"]
        out_cell = difference_cell(billed, paid, outstanding, ("F", "G"), minor_unit(cur), money)
        aging.append(
            [
                Text(item["invoice_number"], fmts.text()),
                Text(item["account_id"], fmts.text()),
                Text(item["account_name"], fmts.text(wrap=True)),
                Text(item["invoice_period"], fmts.text()),
                Text(cur, fmts.text()),
                Number(billed, money),
                Number(paid, money),
                out_cell,
                Date(item["due_date"], fmts.date()),
                Number(item["days_overdue"], fmts.integer()),
                Text(item["aging_bucket"], fmts.text(item["aging_bucket"] not in ("current",))),
            ]
        )


def _write_past_due(
    con: duckdb.DuckDBPyConnection,
    period: str,
    table: TableSheet,
    aging: TableSheet,
    fmts: Formats,
) -> None:
    """Per account and currency: overdue receivables still owed, largest first.

    Count and amount are COUNTIFS/SUMIFS over the AR aging table keyed on the
    account and currency (EXACT for an account id SUMIFS could misread).
    """
    if not table_exists(con, "ar_aging"):
        return
    collisions = case_collisions(
        con, "select account_id from main.ar_aging where period = ?", [period]
    )
    sql = f"""
        select p.*, {display_name("n", "p.account_id")} as account_name
        from (
            select account_id, currency, count(*) as invoices, sum(outstanding) as overdue,
                   max(days_overdue) as most_days, min(due_date) as oldest_due
            from main.ar_aging
            where period = ? and days_overdue > 0 and outstanding > 0
            group by account_id, currency
        ) p
        left join {account_names_sql(con)} n on n.account_id = p.account_id
        order by p.currency, p.overdue desc, p.account_id
    """
    overdue = [("Days overdue", ">0"), ("Outstanding", ">0")]
    keys = [("Account id", "$A{r}"), ("Currency", "$C{r}")]
    # (count, amount) formulas: the same for every row but for `{r}`, so made once.
    formulas = {
        plain: (
            keyed_total(aging, None, keys, overdue, plain),
            keyed_total(aging, "Outstanding", keys, overdue, plain),
        )
        for plain in (True, False)
    }
    for item in stream(con, sql, [period, period]):
        account = item["account_id"]
        plain = plain_key(account) and account not in collisions
        count, amount = formulas[plain]
        table.append(
            [
                Text(account, fmts.text()),
                Text(item["account_name"], fmts.text(wrap=True)),
                Text(item["currency"], fmts.text()),
                Formula("=" + count, item["invoices"], fmts.integer()),
                Formula("=" + amount, item["overdue"], fmts.money(item["currency"], bold=True)),
                Number(item["most_days"], fmts.integer()),
                Date(item["oldest_due"], fmts.date()),
            ]
        )


def write_reconciliation(
    con: duckdb.DuckDBPyConnection, period: str, path: Path, run_info: RunInfo
) -> Path:
    """Write reconciliation.xlsx for the period to `path` (atomically)."""
    facts = load_cover_facts(con, period)
    has_table = table_exists(con, "reconciliation")
    count = count_rows(con, "reconciliation", period)
    aging_count = count_rows(con, "ar_aging", period)
    notes = []
    exceptions_count = held_billed = past_due_count = 0
    if count == 0:
        notes.append(
            f"No reconciliation for {period}: no billed_invoices file was given "
            "(or it had no rows for this period)."
        )
    else:
        row = con.execute(
            f"select count(*) filter (where {EXCEPTION_FILTER}), "
            "count(*) filter (where status = 'matched' and invoice_status = 'held') "
            f"from ({items_sql(con)})",
            [period, period],
        ).fetchone()
        assert row is not None
        exceptions_count, held_billed = int(row[0]), int(row[1])
        notes.append(f"{exceptions_count} of {count} items are exceptions.")
        if held_billed:
            notes.append(
                f"{held_billed} invoices held by closebook were billed anyway: see Exceptions."
            )
    if aging_count:
        row = con.execute(
            "select count(distinct (account_id, currency)) from main.ar_aging "
            "where period = ? and days_overdue > 0 and outstanding > 0",
            [period],
        ).fetchone()
        past_due_count = int(row[0]) if row else 0
        if past_due_count:
            notes.append(f"{past_due_count} accounts owe overdue balances: see Past-due accounts.")
    elif not table_exists(con, "ar_aging"):
        notes.append("No receivables aging: it needs both billed_invoices and payments.")
    currencies = _aging_currencies(con, period)
    with atomic_workbook(path, document_properties(TITLE, run_info)) as workbook:
        fmts = Formats(workbook, run_info.paper)
        write_cover(workbook, fmts, TITLE, run_info, facts, notes)
        summary = summary_sheet(workbook, fmts, SUMMARY, (28, *(17,) * 7))
        exceptions = TableSheet(workbook, fmts, EXCEPTIONS, ITEM_COLUMNS, exceptions_count)
        aging = TableSheet(
            workbook,
            fmts,
            AGING,
            AGING_COLUMNS,
            aging_count,
            top=len(currencies) + 2,
            preamble=lambda ws, table: _write_aging_block(workbook, ws, table, currencies, fmts),
        )
        past_due = TableSheet(workbook, fmts, PAST_DUE, PAST_DUE_COLUMNS, past_due_count)
        detail = TableSheet(workbook, fmts, DETAIL, ITEM_COLUMNS, count)
        status_rows: list[list[Cell]] = []
        if has_table:
            items = items_sql(con)
            exceptions_sql = (
                f"select * from ({items}) where {EXCEPTION_FILTER} order by {ORDER_EXCEPTIONS}"
            )
            for item in stream(con, exceptions_sql, [period, period]):
                exceptions.append(_item_row(item, fmts))
            for item in stream(
                con, f"select * from ({items}) order by {ORDER_DETAIL}", [period, period]
            ):
                detail.append(_item_row(item, fmts))
            status_rows = _summary_rows(con, period, detail, fmts)
        _write_aging(con, period, aging, fmts)
        _write_past_due(con, period, past_due, aging, fmts)
        for table in (exceptions, aging, past_due, detail):
            table.finish()
        write_block(summary, 0, SUMMARY_HEADERS, fmts, status_rows)
    return path
