"""reconciliation.xlsx: what we computed vs what the billing system billed (contract 3).

Sheets: Cover; Summary (items and amounts per status and currency, and
outstanding per aging bucket and currency); Exceptions (every row that is not
`matched`, largest absolute difference first); AR aging (accounts x buckets);
Past-due accounts (the banner list: overdue and still owing); All items (every
reconciliation row by account and currency, which the formulas of the other
sheets add up).

All items is sorted by account and currency, so each account's rows are one
contiguous range, and each AR aging and past-due row adds up only its own
range: `=SUMPRODUCT(('All items'!$L$100:$L$103="1-30")*'All items'!$I$100:$I$103)`
(one term per sheet part the range sits on). Recalculation is linear in the
rows, not accounts x rows. The bucket is matched with `=`, never as a SUMIFS
criterion, which is itself parsed (wildcards `*?`, operators `<>=`, "1-30"
possibly read as a date); account ids never appear in a formula at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from xlsxwriter.utility import xl_col_to_name

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
    quote_sheet,
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
BUCKET_LETTER, DAYS_LETTER, OUTSTANDING_LETTER = (
    xl_col_to_name([c.header for c in ITEM_COLUMNS].index(header))
    for header in ("Aging bucket", "Days overdue", "Outstanding")
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
# Every column, so equal keys mean equal rows: the order is total.
ITEM_ORDER = (
    "invoice_number, status, account_id, currency, computed_amount, billed_amount, paid_amount, "
    "difference, outstanding, due_date, days_overdue, aging_bucket"
)
# All items: by account and currency first, so each (account, currency) is one
# contiguous range for the AR aging and past-due formulas.
ORDER_DETAIL = f"account_id nulls last, currency nulls last, {ITEM_ORDER}"
ORDER_EXCEPTIONS = f"abs(difference) desc nulls last, {ITEM_ORDER}"

Piece = tuple[str, int, int]  # (sheet part, first Excel row, last Excel row)


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


def _bucket_sumproduct(detail: TableSheet, currency_ref: str, bucket: str) -> str:
    """Outstanding in one bucket for one currency over the whole of All items (Summary)."""
    terms = []
    for index in range(len(detail.parts)):
        currency = detail.ranges("Currency")[index]
        bucket_range = detail.ranges("Aging bucket")[index]
        outstanding = detail.ranges("Outstanding")[index]
        terms.append(
            f'SUMPRODUCT(EXACT({currency},{currency_ref})*({bucket_range}="{bucket}")'
            f"*{outstanding})"
        )
    return "+".join(terms)


def _ranged_sumproduct(
    detail: TableSheet, pieces: Sequence[Piece], condition: str, value: str | None = None
) -> str:
    """SUMPRODUCT over one account's own rows of All items, one term per sheet part.

    `condition` is an expression with `{bucket}`, `{days}` and `{out}` standing
    for the piece's Aging bucket, Days overdue and Outstanding ranges; `value`
    (one of those names) is the column added up, or None to count.
    """
    letters = {"bucket": BUCKET_LETTER, "days": DAYS_LETTER, "out": OUTSTANDING_LETTER}
    terms = []
    for sheet, first, last in pieces:
        refs = {
            name: f"{quote_sheet(sheet)}!${letter}${first}:${letter}${last}"
            for name, letter in letters.items()
        }
        product = condition.format(**refs)
        if value is not None:
            product += "*" + refs[value]
        terms.append(f"SUMPRODUCT({product})")
    return "+".join(terms)


def _extend(pieces: list[Piece], sheet: str, row: int) -> None:
    """Add an Excel row to a run of pieces (a new piece when it is not the next row)."""
    if pieces and pieces[-1][0] == sheet and pieces[-1][2] == row - 1:
        pieces[-1] = (sheet, pieces[-1][1], row)
    else:
        pieces.append((sheet, row, row))


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
            formula = _bucket_sumproduct(detail, f"$A{r}", bucket)
            cells.append(Formula("=" + formula, item[bucket], money))
        cells.append(Formula(f"=SUM(B{r}:F{r})", sum(item[b] for b in BUCKETS), money))
        aging_rows.append(cells)
    return rows, aging_rows


@dataclass
class _Account:
    """One (account, currency) of All items while its rows are being written."""

    account_id: str | None
    currency: str | None
    pieces: list[Piece] = field(default_factory=list)
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, Decimal(0)))
    aged: bool = False  # any row with a bucket and an outstanding amount
    owing: bool = False  # any such outstanding amount non-zero
    past_due: bool = False  # any row overdue and still owing


def _aging_row(account: _Account, detail: TableSheet, fmts: Formats) -> list[Cell]:
    """An AR aging row: each bucket adds up the account's own rows of All items."""
    money = fmts.money(account.currency)
    cells: list[Cell] = [
        Text(account.account_id, fmts.text()),
        Text(account.currency, fmts.text()),
    ]
    for bucket in BUCKETS:
        formula = _ranged_sumproduct(detail, account.pieces, f'({{bucket}}="{bucket}")', "out")
        cells.append(Formula("=" + formula, account.buckets[bucket], money))
    total = sum(account.buckets.values(), Decimal(0))
    cells.append(Formula("=SUM(C{r}:G{r})", total, money))
    return cells


def _write_detail_and_aging(
    con: duckdb.DuckDBPyConnection,
    period: str,
    detail: TableSheet,
    aging: TableSheet,
    fmts: Formats,
) -> dict[tuple[str, str | None], list[Piece]]:
    """Stream All items by account and currency; write each account's aging row after its rows.

    Returns where each past-due (account, currency) sits in All items, for the
    past-due sheet (sorted differently, so written afterwards).
    """
    past_due: dict[tuple[str, str | None], list[Piece]] = {}
    account: _Account | None = None

    def flush() -> None:
        if account is None or account.account_id is None:
            return
        if account.aged and account.owing:
            aging.append(_aging_row(account, detail, fmts))
        if account.past_due:
            past_due[(account.account_id, account.currency)] = account.pieces

    sql = f"select * from ({ITEMS_SQL}) order by {ORDER_DETAIL}"
    for item in stream(con, sql, [period]):
        account_id, currency = item["account_id"], item["currency"]
        if account is None or (account.account_id, account.currency) != (account_id, currency):
            flush()
            account = _Account(account_id, currency)
        location = detail.append(_item_row(item, fmts))
        _extend(account.pieces, location.sheet, location.row)
        bucket, outstanding, days = item["aging_bucket"], item["outstanding"], item["days_overdue"]
        if bucket is not None and outstanding is not None:
            account.aged = True
            account.owing = account.owing or outstanding != 0
            if bucket in account.buckets:
                account.buckets[bucket] += outstanding
        if days is not None and outstanding is not None and days > 0 and outstanding > 0:
            account.past_due = True
    flush()
    return past_due


def _write_past_due(
    con: duckdb.DuckDBPyConnection,
    period: str,
    table: TableSheet,
    detail: TableSheet,
    pieces: dict[tuple[str, str | None], list[Piece]],
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
    overdue = "({days}>0)*({out}>0)"
    for item in stream(con, sql, [period]):
        money = fmts.money(item["currency"], bold=True)
        rows = pieces.get((item["account_id"], item["currency"]))
        count: Cell = Number(item["invoices"], fmts.integer())
        amount: Cell = Number(item["overdue"], money)
        if rows:
            count = Formula(
                "=" + _ranged_sumproduct(detail, rows, overdue), item["invoices"], fmts.integer()
            )
            amount = Formula(
                "=" + _ranged_sumproduct(detail, rows, overdue, "out"), item["overdue"], money
            )
        table.append(
            [
                Text(item["account_id"], fmts.text()),
                Text(item["currency"], fmts.text()),
                count,
                amount,
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
                f"select * from ({ITEMS_SQL}) where status <> 'matched' order by {ORDER_EXCEPTIONS}"
            )
            for item in stream(con, exceptions_sql, [period]):
                exceptions.append(_item_row(item, fmts))
            pieces = _write_detail_and_aging(con, period, detail, aging, fmts)
            _write_past_due(con, period, past_due, detail, pieces, fmts)
            status_rows, aging_rows = _summary_rows(con, period, detail, fmts)
        else:
            status_rows, aging_rows = [], []
        for table in (exceptions, aging, past_due, detail):
            table.finish()
        next_row = write_block(summary, 0, SUMMARY_HEADERS, fmts, status_rows)
        write_block(summary, next_row, AGING_SUMMARY_HEADERS, fmts, aging_rows)
    return path
