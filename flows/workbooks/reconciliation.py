"""reconciliation.xlsx: what we computed vs what the billing system billed (contract 3).

Sheets: Cover; Summary (items and amounts per status and currency, and
outstanding per aging bucket and currency); Exceptions (every row that is not
`matched`, largest absolute difference first); AR aging (accounts x buckets);
Past-due accounts (the banner list: overdue and still owing); All items (every
reconciliation row, which the formulas of the other sheets add up).

Aging and past-due formulas use SUMPRODUCT with EXACT rather than SUMIFS:
their criteria are account ids from the inputs and labels like "1-30", and a
SUMIFS criterion is itself parsed (wildcards `*?`, operators `<>=`, "1-30"
read as a date), so exact text comparison is the only safe match.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from .cover import document_properties, write_cover
from .formats import Formats, minor_unit
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
    sumifs,
    summary_sheet,
    write_block,
)
from .warehouse import RunInfo, count_rows, fetch, load_cover_facts, stream, table_exists

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
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
NO_CURRENCY = "(none)"

ITEM_COLUMNS = (
    Column("Invoice number", 30),
    Column("Account id", 16),
    Column("Currency", 9),
    Column("Status", 26),
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
    Column("Account id", 16),
    Column("Currency", 9),
    Column("Current", 14, numeric=True),
    Column("1-30 days", 14, numeric=True),
    Column("31-60 days", 14, numeric=True),
    Column("61-90 days", 14, numeric=True),
    Column("Over 90 days", 14, numeric=True),
    Column("Total outstanding", 16, numeric=True),
)
PAST_DUE_COLUMNS = (
    Column("Account id", 16),
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
AGING_SUMMARY_HEADERS = ("Currency", *(c.header for c in AGING_COLUMNS[2:]))

ITEMS_SQL = "select * from main.reconciliation where period = ?"
ORDER_DETAIL = (
    "invoice_number, status, account_id, currency, computed_amount, billed_amount, paid_amount"
)


def _item_row(item: dict[str, Any], fmts: Formats) -> list[Cell]:
    """One reconciliation row; difference and outstanding are formulas where they agree."""
    cur = item["currency"]
    m = minor_unit(cur)
    money = fmts.money(cur)
    computed, billed = item["computed_amount"], item["billed_amount"]
    paid, outstanding, difference = item["paid_amount"], item["outstanding"], item["difference"]
    diff_cell: Cell = Number(difference, money)
    if None not in (computed, billed, difference) and computed - billed == difference:
        diff_cell = Formula(f"=ROUND(E{{r}}-F{{r}},{m})", difference, money)
    out_cell: Cell = Number(outstanding, money)
    basis, column = (billed, "F") if billed is not None else (computed, "E")
    if None not in (basis, outstanding) and basis - (paid or 0) == outstanding:
        out_cell = Formula(f"=ROUND({column}{{r}}-H{{r}},{m})", outstanding, money)
    return [
        Text(item["invoice_number"], fmts.text()),
        Text(item["account_id"], fmts.text()),
        Text(cur, fmts.text()),
        Text(item["status"], fmts.text(item["status"] != "matched")),
        Number(computed, money),
        Number(billed, money),
        diff_cell,
        Number(paid, money),
        out_cell,
        Date(item["due_date"], fmts.date()),
        Number(item["days_overdue"], fmts.integer()),
        Text(item["aging_bucket"], fmts.text()),
    ]


def _exact_sumproduct(
    table: TableSheet,
    matches: Sequence[tuple[str, str]],
    overdue_only: bool = False,
    value: str | None = None,
) -> str:
    """SUMPRODUCT over every part: EXACT text matches, optional extra conditions, summed column."""
    terms = []
    for index in range(len(table.parts)):
        conditions = [f"EXACT({table.ranges(header)[index]},{expr})" for header, expr in matches]
        if overdue_only:
            for header in ("Days overdue", "Outstanding"):
                conditions.append(f"({table.ranges(header)[index]}>0)")
        product = "*".join(conditions)
        if value is None:
            terms.append(f"SUMPRODUCT({product}*1)")
        else:
            terms.append(f"SUMPRODUCT({product},{table.ranges(value)[index]})")
    return "+".join(terms)


def _summary_rows(
    con: duckdb.DuckDBPyConnection, period: str, detail: TableSheet, fmts: Formats
) -> tuple[list[list[Cell]], list[list[Cell]]]:
    amount_sums = ", ".join(f"coalesce(sum({col}), 0) as {col}" for col in SUMMARY_AMOUNTS.values())
    order = " ".join(f"when '{s}' then {i}" for i, s in enumerate(STATUSES))
    by_status = fetch(
        con,
        f"select status, currency, count(*) as items, {amount_sums} from ({ITEMS_SQL}) "
        f"group by status, currency "
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

    bucket_sums = ", ".join(
        f"coalesce(sum(outstanding) filter (where aging_bucket = '{b}'), 0) as \"{b}\""
        for b in BUCKETS
    )
    by_currency = fetch(
        con,
        f"select currency, {bucket_sums} from ({ITEMS_SQL}) "
        "where currency is not null and aging_bucket is not null and outstanding is not null "
        "group by currency order by currency",
        [period],
    )
    aging_rows: list[list[Cell]] = []
    start = len(by_status) + 4  # Excel row of the first aging-block data row
    for index, item in enumerate(by_currency):
        r = start + index
        money = fmts.money(item["currency"])
        cells = [Text(item["currency"], fmts.text())]
        for bucket in BUCKETS:
            formula = _exact_sumproduct(
                detail,
                [("Currency", f"$A{r}"), ("Aging bucket", f'"{bucket}"')],
                value="Outstanding",
            )
            cells.append(Formula("=" + formula, item[bucket], money))
        cells.append(Formula(f"=SUM(B{r}:F{r})", sum(item[b] for b in BUCKETS), money))
        aging_rows.append(cells)
    return rows, aging_rows


def _write_aging(
    con: duckdb.DuckDBPyConnection,
    period: str,
    table: TableSheet,
    detail: TableSheet,
    fmts: Formats,
) -> None:
    bucket_sums = ", ".join(
        f"coalesce(sum(outstanding) filter (where aging_bucket = '{b}'), 0) as \"{b}\""
        for b in BUCKETS
    )
    sql = f"""
        select account_id, currency, {bucket_sums} from ({ITEMS_SQL})
        where account_id is not null and aging_bucket is not null and outstanding is not null
        group by account_id, currency having bool_or(outstanding <> 0)
        order by account_id, currency
    """
    for item in stream(con, sql, [period]):
        money = fmts.money(item["currency"])
        cells: list[Cell] = [
            Text(item["account_id"], fmts.text()),
            Text(item["currency"], fmts.text()),
        ]
        for bucket in BUCKETS:
            formula = _exact_sumproduct(
                detail,
                [("Account id", "$A{r}"), ("Currency", "$B{r}"), ("Aging bucket", f'"{bucket}"')],
                value="Outstanding",
            )
            cells.append(Formula("=" + formula, item[bucket], money))
        cells.append(Formula("=SUM(C{r}:G{r})", sum(item[b] for b in BUCKETS), money))
        table.append(cells)


def _write_past_due(
    con: duckdb.DuckDBPyConnection,
    period: str,
    table: TableSheet,
    detail: TableSheet,
    fmts: Formats,
) -> None:
    sql = f"""
        select account_id, currency, count(*) as invoices, sum(outstanding) as overdue,
               max(days_overdue) as most_days, min(due_date) as oldest_due
        from ({ITEMS_SQL})
        where days_overdue > 0 and outstanding > 0 and account_id is not null
        group by account_id, currency
        order by currency, overdue desc, account_id
    """
    matches = [("Account id", "$A{r}"), ("Currency", "$B{r}")]
    for item in stream(con, sql, [period]):
        table.append(
            [
                Text(item["account_id"], fmts.text()),
                Text(item["currency"], fmts.text()),
                Formula(
                    "=" + _exact_sumproduct(detail, matches, overdue_only=True),
                    item["invoices"],
                    fmts.integer(),
                ),
                Formula(
                    "="
                    + _exact_sumproduct(detail, matches, overdue_only=True, value="Outstanding"),
                    item["overdue"],
                    fmts.money(item["currency"], bold=True),
                ),
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
    notes = []
    exceptions_count = past_due_count = 0
    if count == 0:
        notes.append(
            f"No reconciliation for {period}: no billed_invoices file was given "
            "(or it had no rows for this period)."
        )
    else:
        row = con.execute(
            f"select count(*) filter (where status <> 'matched'), "
            f"count(distinct (account_id, currency)) filter "
            f"(where days_overdue > 0 and outstanding > 0 and account_id is not null) "
            f"from ({ITEMS_SQL})",
            [period],
        ).fetchone()
        assert row is not None
        exceptions_count, past_due_count = int(row[0]), int(row[1])
        notes.append(f"{exceptions_count} of {count} items are exceptions (not matched).")
        if past_due_count:
            notes.append(f"{past_due_count} accounts owe overdue balances: see Past-due accounts.")
    with atomic_workbook(path, document_properties(TITLE, run_info)) as workbook:
        fmts = Formats(workbook)
        write_cover(workbook, fmts, TITLE, run_info, facts, notes)
        summary = summary_sheet(workbook, SUMMARY, (28, *(17,) * 7))
        exceptions = TableSheet(workbook, fmts, EXCEPTIONS, ITEM_COLUMNS, exceptions_count)
        aging = TableSheet(workbook, fmts, AGING, AGING_COLUMNS)
        past_due = TableSheet(workbook, fmts, PAST_DUE, PAST_DUE_COLUMNS, past_due_count)
        detail = TableSheet(workbook, fmts, DETAIL, ITEM_COLUMNS, count)
        if has_table:
            exceptions_sql = (
                f"select * from ({ITEMS_SQL}) where status <> 'matched' "
                f"order by abs(difference) desc nulls last, {ORDER_DETAIL}"
            )
            for item in stream(con, exceptions_sql, [period]):
                exceptions.append(_item_row(item, fmts))
            detail_sql = f"select * from ({ITEMS_SQL}) order by {ORDER_DETAIL}"
            for item in stream(con, detail_sql, [period]):
                detail.append(_item_row(item, fmts))
            _write_aging(con, period, aging, detail, fmts)
            _write_past_due(con, period, past_due, detail, fmts)
            status_rows, aging_rows = _summary_rows(con, period, detail, fmts)
        else:
            status_rows, aging_rows = [], []
        for table in (exceptions, aging, past_due, detail):
            table.finish()
        next_row = write_block(summary, 0, SUMMARY_HEADERS, fmts, status_rows)
        write_block(summary, next_row, AGING_SUMMARY_HEADERS, fmts, aging_rows)
    return path
