"""Read the workbooks back and compare every figure with the warehouse.

Each workbook is opened twice with openpyxl in read-only mode: once for the
formulas, once (`data_only=True`) for the values stored with them, which are
what a preview, pandas or an e-mail attachment viewer shows. Every table row
is compared, in order, with an independent warehouse query; every totals
block with a GROUP BY. The same check runs on copies recalculated by
LibreOffice, which proves the formulas, not only the stored values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import openpyxl

from .formats import minor_unit
from .warehouse import fetch, stream, table_exists

MAX_PROBLEMS_PER_SHEET = 20
ERROR_VALUES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "Err:502"}


@dataclass(frozen=True)
class Read:
    """One cell as read back: its value and, for a formula cell, the formula."""

    value: Any
    formula: str | None


@dataclass(frozen=True)
class Field:
    """A column to compare: header, warehouse column (or function), kind, formula wanted."""

    header: str
    source: str | Callable[[dict[str, Any]], Any]
    kind: str = "text"  # text, int, money, price, date, datetime
    formula: bool | Callable[[dict[str, Any]], bool] = False

    def wants_formula(self, row: dict[str, Any]) -> bool:
        return self.formula(row) if callable(self.formula) else self.formula

    def expected(self, row: dict[str, Any]) -> Any:
        return self.source(row) if callable(self.source) else row[self.source]


class Book:
    """A workbook opened for formulas and for stored values, side by side."""

    def __init__(self, path: Path, full: bool = True) -> None:
        self.name = path.name
        self.full = full
        self.formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        self.values = openpyxl.load_workbook(path, read_only=True, data_only=True)

    def close(self) -> None:
        self.formulas.close()
        self.values.close()

    def parts(self, base: str) -> list[str]:
        pattern = re.compile(re.escape(base) + r"( \((\d+)\))?$")
        found = [n for n in self.values.sheetnames if pattern.match(n)]
        return sorted(found, key=lambda n: int(pattern.match(n).group(2) or 1))  # type: ignore[union-attr]

    def rows(self, sheet: str) -> Iterator[list[Read]]:
        ws_f, ws_v = self.formulas[sheet], self.values[sheet]
        for row_f, row_v in zip(ws_f.iter_rows(), ws_v.iter_rows(), strict=False):
            cells = []
            for cell_f, cell_v in zip(row_f, row_v, strict=False):
                is_formula = getattr(cell_f, "data_type", None) == "f"
                cells.append(Read(cell_v.value, cell_f.value if is_formula else None))
            yield cells

    def table(self, base: str) -> Iterator[dict[str, Read]]:
        """Data rows of a table over all its parts, as {header: Read}; blank rows skipped."""
        for sheet in self.parts(base):
            headers: list[str] | None = None
            for cells in self.rows(sheet):
                if headers is None:
                    headers = [str(c.value) if c.value is not None else "" for c in cells]
                    continue
                if all(c.value in (None, "") and c.formula is None for c in cells):
                    continue
                yield dict(zip(headers, cells, strict=False))

    def blocks(self, sheet: str) -> list[list[dict[str, Read]]]:
        """Blocks of a totals sheet: a header row, its rows, a blank row, the next block."""
        blocks: list[list[dict[str, Read]]] = []
        headers: list[str] | None = None
        for cells in self.rows(sheet):
            if all(c.value in (None, "") and c.formula is None for c in cells):
                headers = None
                continue
            if headers is None:
                headers = [str(c.value) if c.value is not None else "" for c in cells]
                blocks.append([])
                continue
            blocks[-1].append(dict(zip(headers, cells, strict=False)))
        return blocks

    def cover(self) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        for cells in self.rows("Cover"):
            if len(cells) >= 2 and isinstance(cells[0].value, str) and cells[1].value is not None:
                facts.setdefault(cells[0].value, cells[1].value)
        return facts


class Problems:
    """Collects discrepancies, at most MAX_PROBLEMS_PER_SHEET per place."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._counts: dict[str, int] = {}

    def add(self, where: str, message: str) -> None:
        count = self._counts.get(where, 0) + 1
        self._counts[where] = count
        if count <= MAX_PROBLEMS_PER_SHEET:
            self.items.append(f"{where}: {message}")
        elif count == MAX_PROBLEMS_PER_SHEET + 1:
            self.items.append(f"{where}: more discrepancies not listed")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            return None
    return None


def same_amount(stored: Any, expected: Any, places: int) -> bool:
    """Equal to the minor unit, with no stray fraction beyond it (float noise aside)."""
    if expected is None:
        return stored in (None, "")
    got = _decimal(stored)
    if got is None:
        return False
    want = Decimal(expected)
    tolerance = max(Decimal(10) ** -(places + 4), abs(want) * Decimal("1e-14"))
    return abs(got - want) <= tolerance


def _same(kind: str, stored: Any, expected: Any, currency: str | None) -> bool:
    if kind == "text":
        return ("" if stored is None else str(stored)) == (
            "" if expected is None else str(expected)
        )
    if kind == "money":
        return same_amount(stored, expected, minor_unit(currency))
    if kind == "price":
        return same_amount(stored, expected, 6)
    if kind == "int":
        return same_amount(stored, expected, 0)
    if kind in ("date", "datetime"):
        if expected is None:
            return stored in (None, "")
        if not isinstance(stored, dt.datetime | dt.date):
            return False
        if kind == "date":
            got = stored.date() if isinstance(stored, dt.datetime) else stored
            return got == expected
        return abs(stored - expected) < dt.timedelta(seconds=1)  # type: ignore[operator]
    raise ValueError(kind)


def compare_row(
    problems: Problems, where: str, got: dict[str, Read], want: dict[str, Any], fields: list[Field]
) -> None:
    currency = want.get("currency")
    for f in fields:
        cell = got.get(f.header, Read(None, None))
        expected = f.expected(want)
        if isinstance(cell.value, str) and cell.value in ERROR_VALUES:
            problems.add(where, f"{f.header} is an error {cell.value}")
        elif not _same(f.kind, cell.value, expected, currency):
            problems.add(where, f"{f.header} is {cell.value!r}, warehouse says {expected!r}")
        if f.wants_formula(want) and expected is not None and cell.formula is None:
            problems.add(where, f"{f.header} is not a live formula")


def compare_table(
    problems: Problems,
    book: Book,
    sheet: str,
    expected: Iterable[dict[str, Any]],
    fields: list[Field],
    key: Callable[[dict[str, Any]], Any],
) -> None:
    """Compare a table's rows, in order, with the warehouse's rows (full checks only)."""
    if not book.full:
        return
    got_rows = book.table(sheet)
    index = 0
    for index, want in enumerate(expected, start=1):
        got = next(got_rows, None)
        where = f"{book.name} {sheet} row {index} ({key(want)})"
        if got is None:
            problems.add(f"{book.name} {sheet}", f"missing row {index}: {key(want)}")
            return
        compare_row(problems, where, got, want, fields)
    extra = sum(1 for _ in got_rows)
    if extra:
        problems.add(f"{book.name} {sheet}", f"{extra} rows more than the warehouse's {index}")


def compare_block(
    problems: Problems,
    book: Book,
    where: str,
    block: list[dict[str, Read]],
    expected: list[dict[str, Any]],
    key_fields: list[Field],
    fields: list[Field],
) -> None:
    """Compare a totals block with a GROUP BY, matching rows by their key columns."""

    def got_key(row: dict[str, Read]) -> tuple[str, ...]:
        return tuple(
            "" if row[f.header].value is None else str(row[f.header].value) for f in key_fields
        )

    def want_key(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple("" if f.expected(row) is None else str(f.expected(row)) for f in key_fields)

    got = {got_key(row): row for row in block}
    want = {want_key(row): row for row in expected}
    for k in sorted(set(got) | set(want)):
        if k not in got:
            problems.add(f"{book.name} {where}", f"no row for {' / '.join(k)}")
        elif k not in want:
            problems.add(f"{book.name} {where}", f"row {' / '.join(k)} not in the warehouse")
        else:
            compare_row(problems, f"{book.name} {where} {' / '.join(k)}", got[k], want[k], fields)


def _check_cover(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    facts = book.cover()
    where = f"{book.name} Cover"
    if facts.get("Period") != period:
        problems.add(where, f"period is {facts.get('Period')!r}, not {period}")
    expected: dict[str, int] = {}
    if table_exists(con, "invoices"):
        row = con.execute(
            "select count(*) filter (where status = 'issued'), "
            "count(*) filter (where status = 'held') from main.invoices where period = ?",
            [period],
        ).fetchone()
        assert row is not None
        expected["Invoices issued"], expected["Invoices held (not issued)"] = row
    if table_exists(con, "rejected_rows"):
        row = con.execute(
            "select count(*) from main.rejected_rows where period = ?", [period]
        ).fetchone()
        assert row is not None
        expected["Rejected input rows"] = row[0]
    for label, count in expected.items():
        if not same_amount(facts.get(label), count, 0):
            problems.add(where, f"{label} is {facts.get(label)!r}, warehouse says {count}")


def _rows(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list[Any]) -> list[dict]:
    return fetch(con, sql, params) if table_exists(con, table) else []


def _table_rows(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list[Any]
) -> Iterator[dict[str, Any]]:
    """A table's expected rows, queried only when iterated and streamed in batches.

    `compare_table` does not iterate them when the check is not full, so the
    close's quick check never reads a million-row table into Python.
    """
    if table_exists(con, table):
        yield from stream(con, sql, params)


def _check_invoices(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    has_lines = table_exists(con, "invoice_lines")
    line_count = (
        "(select count(*) from main.invoice_lines l where l.period = i.period "
        "and l.invoice_number = i.invoice_number)"
        if has_lines
        else "0"
    )
    invoices = _table_rows(
        con,
        "invoices",
        f"select i.*, {line_count} as n_lines from main.invoices i where i.period = ? "
        "order by i.invoice_number",
        [period],
    )
    compare_table(
        problems,
        book,
        "Invoice register",
        invoices,
        [
            Field("Invoice number", "invoice_number"),
            Field("Account id", "account_id"),
            Field("Account name", "account_name"),
            Field("Invoice type", "invoice_type"),
            Field("Currency", "currency"),
            Field("Total", "total", "money", formula=lambda r: r["n_lines"] > 0),
            Field("Status", "status"),
            Field("Hold reason", "hold_reason"),
            Field("Payment action", "payment_action"),
            Field("Invoice date", "invoice_date", "date"),
            Field("Due date", "due_date", "date"),
        ],
        key=lambda r: r["invoice_number"],
    )
    if table_exists(con, "invoices") and has_lines:
        lines = stream(
            con,
            "select l.*, i.currency from main.invoice_lines l left join "
            "(select * from main.invoices where period = ?) i using (invoice_number) "
            "where l.period = ? order by l.invoice_number, l.line_no nulls first, l.description, "
            "l.quantity, l.unit_price, l.amount",
            [period, period],
        )
        compare_table(
            problems,
            book,
            "Invoice lines",
            lines,
            [
                Field("Invoice number", "invoice_number"),
                Field("Line", "line_no", "int"),
                Field("Description", "description"),
                Field("Quantity", "quantity", "int"),
                Field("Unit price", "unit_price", "price"),
                Field("Amount", "amount", "money"),
            ],
            key=lambda r: f"{r['invoice_number']} line {r['line_no']}",
        )
    days = _table_rows(
        con,
        "license_days",
        "select * from main.license_days where period = ? "
        "order by account_id, product, license_id, days",
        [period],
    )
    compare_table(
        problems,
        book,
        "License days",
        days,
        [
            Field("Account id", "account_id"),
            Field("Product", "product"),
            Field("License id", "license_id"),
            Field("Days", "days", "int"),
        ],
        key=lambda r: f"{r['account_id']} {r['license_id']}",
    )
    blocks = book.blocks("Totals by currency") + [[], []]
    by_currency = _rows(
        con,
        "invoices",
        "select currency, count(*) as invoices, "
        "count(*) filter (where status = 'issued') as issued, "
        "count(*) filter (where status = 'held') as held, sum(total) as total, "
        "coalesce(sum(total) filter (where status = 'issued'), 0) as issued_total, "
        "coalesce(sum(total) filter (where status = 'held'), 0) as held_total "
        "from main.invoices where period = ? group by currency",
        [period],
    )
    if has_lines:
        lines_total = {
            r["currency"]: r["amount"]
            for r in _rows(
                con,
                "invoices",
                "select i.currency, sum(l.amount) as amount from main.invoice_lines l "
                "join main.invoices i on i.invoice_number = l.invoice_number and i.period = ? "
                "where l.period = ? group by i.currency",
                [period, period],
            )
        }
        for row in by_currency:
            row["lines_total"] = lines_total.get(row["currency"], Decimal(0))
    key = [Field("Currency", "currency")]
    money = [
        Field(h, c, "money", formula=True)
        for h, c in (
            ("Total", "total"),
            ("Issued total", "issued_total"),
            ("Held total", "held_total"),
        )
    ]
    counts = [
        Field(h, c, "int", formula=True)
        for h, c in (("Invoices", "invoices"), ("Issued", "issued"), ("Held", "held"))
    ]
    lines_field = [Field("Lines total", "lines_total", "money", formula=True)] if has_lines else []
    compare_block(
        problems,
        book,
        "Totals by currency",
        blocks[0],
        by_currency,
        key,
        counts + money + lines_field,
    )
    by_type = _rows(
        con,
        "invoices",
        "select currency, invoice_type, count(*) as invoices, sum(total) as total, "
        "coalesce(sum(total) filter (where status = 'issued'), 0) as issued_total, "
        "coalesce(sum(total) filter (where status = 'held'), 0) as held_total "
        "from main.invoices where period = ? group by all",
        [period],
    )
    compare_block(
        problems,
        book,
        "Totals by currency and type",
        blocks[1],
        by_type,
        [Field("Currency", "currency"), Field("Invoice type", "invoice_type")],
        [Field("Invoices", "invoices", "int", formula=True), *money],
    )


def _check_overage(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    where = "from main.hwm_usage where period = ? and overage_quantity > 0"
    rows = _table_rows(con, "hwm_usage", f"select * {where} order by account_id, metric", [period])
    compare_table(
        problems,
        book,
        "Accounts over contract",
        rows,
        [
            Field("Account id", "account_id"),
            Field("Metric", "metric"),
            Field("Contracted", "contracted_quantity", "int"),
            Field("High-water mark", "hwm", "int"),
            Field("Reached at (UTC)", "hwm_observed_at", "datetime"),
            Field("Overage quantity", "overage_quantity", "int"),
            Field("Unit price", "unit_price", "price"),
            Field("Overage amount", "overage_amount", "money"),
            Field("Currency", "currency"),
        ],
        key=lambda r: f"{r['account_id']} {r['metric']}",
    )
    totals = _rows(
        con,
        "hwm_usage",
        f"select currency, count(*) as accounts, sum(overage_amount) as amount {where} "
        "group by currency",
        [period],
    )
    blocks = book.blocks("Totals by currency") + [[]]
    compare_block(
        problems,
        book,
        "Totals by currency",
        blocks[0],
        totals,
        [Field("Currency", "currency")],
        [
            Field("Accounts", "accounts", "int", True),
            Field("Overage amount", "amount", "money", True),
        ],
    )


PREPAID_MONEY = (
    ("Opening balance", "opening_balance"),
    ("Credits", "credits"),
    ("Charge", "charge"),
    ("Drawdown", "drawdown"),
    ("Shortfall", "shortfall"),
    ("Closing balance", "closing_balance"),
)


def _check_prepaid(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    rows = _table_rows(
        con,
        "prepaid_balances",
        "select * from main.prepaid_balances where period = ? order by account_id",
        [period],
    )
    compare_table(
        problems,
        book,
        "Balance statement",
        rows,
        [
            Field("Account id", "account_id"),
            Field("Currency", "currency"),
            *(Field(h, c, "money") for h, c in PREPAID_MONEY),
            Field("Available", lambda r: r["opening_balance"] + r["credits"], "money", True),
            Field("Devices", "devices", "int"),
            Field("Unit price", "unit_price", "price"),
            Field("Runway months", "runway_months", "int"),
            *(Field(f"Prepay {n} months", f"prepay_{n}_months", "money") for n in (12, 24, 36)),
        ],
        key=lambda r: r["account_id"],
    )
    sums = ", ".join(f"sum({c}) as {c}" for _, c in PREPAID_MONEY)
    totals = _rows(
        con,
        "prepaid_balances",
        f"select currency, count(*) as accounts, {sums} from main.prepaid_balances "
        "where period = ? group by currency",
        [period],
    )
    blocks = book.blocks("Totals by currency") + [[]]
    compare_block(
        problems,
        book,
        "Totals by currency",
        blocks[0],
        totals,
        [Field("Currency", "currency")],
        [
            Field("Accounts", "accounts", "int", True),
            *(Field(h, c, "money", True) for h, c in PREPAID_MONEY),
        ],
    )


ITEM_FIELDS = [
    Field("Invoice number", "invoice_number"),
    Field("Account id", "account_id"),
    Field("Currency", "currency"),
    Field("Status", "status"),
    Field("Computed amount", "computed_amount", "money"),
    Field("Billed amount", "billed_amount", "money"),
    Field("Difference", "difference", "money"),
    Field("Paid", "paid_amount", "money"),
    Field("Outstanding", "outstanding", "money"),
    Field("Due date", "due_date", "date"),
    Field("Days overdue", "days_overdue", "int"),
    Field("Aging bucket", "aging_bucket"),
]
BUCKETS = {
    "Current": "current",
    "1-30 days": "1-30",
    "31-60 days": "31-60",
    "61-90 days": "61-90",
    "Over 90 days": "90+",
}


def _check_reconciliation(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    base = "(select * from main.reconciliation where period = ?)"
    order = (
        "invoice_number, status, account_id, currency, computed_amount, billed_amount, paid_amount"
    )
    key = lambda r: f"{r['invoice_number']} {r['status']}"  # noqa: E731
    compare_table(
        problems,
        book,
        "All items",
        _table_rows(
            con,
            "reconciliation",
            f"select * from {base} order by account_id nulls last, currency nulls last, {order}",
            [period],
        ),
        ITEM_FIELDS,
        key,
    )
    compare_table(
        problems,
        book,
        "Exceptions",
        _table_rows(
            con,
            "reconciliation",
            f"select * from {base} where status <> 'matched' "
            f"order by abs(difference) desc nulls last, {order}",
            [period],
        ),
        ITEM_FIELDS,
        key,
    )
    amounts = ("computed_amount", "billed_amount", "difference", "paid_amount", "outstanding")
    sums = ", ".join(f"coalesce(sum({c}), 0) as {c}" for c in amounts)
    by_status = _rows(
        con,
        "reconciliation",
        f"select status, coalesce(currency, '(none)') as currency_label, currency, "
        f"count(*) as items, {sums} from {base} group by status, currency",
        [period],
    )
    blocks = book.blocks("Summary") + [[], []]
    headers = ("Computed amount", "Billed amount", "Difference", "Paid", "Outstanding")
    compare_block(
        problems,
        book,
        "Summary",
        blocks[0],
        by_status,
        [Field("Status", "status"), Field("Currency", "currency_label")],
        [
            Field("Items", "items", "int", True),
            *(Field(h, c, "money", True) for h, c in zip(headers, amounts, strict=True)),
        ],
    )
    bucket_sums = ", ".join(
        f"coalesce(sum(outstanding) filter (where aging_bucket = '{b}'), 0) as \"{b}\""
        for b in BUCKETS.values()
    )
    filters = "aging_bucket is not null and outstanding is not null"
    aging_fields = [
        *(Field(h, b, "money", True) for h, b in BUCKETS.items()),
        Field("Total outstanding", lambda r: sum(r[b] for b in BUCKETS.values()), "money", True),
    ]
    compare_block(
        problems,
        book,
        "Summary aging",
        blocks[1],
        _rows(
            con,
            "reconciliation",
            f"select currency, {bucket_sums} from {base} where currency is not null and {filters} "
            "group by currency",
            [period],
        ),
        [Field("Currency", "currency")],
        aging_fields,
    )
    compare_table(
        problems,
        book,
        "AR aging",
        _table_rows(
            con,
            "reconciliation",
            f"select account_id, currency, {bucket_sums} from {base} "
            f"where account_id is not null and {filters} group by account_id, currency "
            "having bool_or(outstanding <> 0) order by account_id, currency",
            [period],
        ),
        [Field("Account id", "account_id"), Field("Currency", "currency"), *aging_fields],
        key=lambda r: f"{r['account_id']} {r['currency']}",
    )
    compare_table(
        problems,
        book,
        "Past-due accounts",
        _table_rows(
            con,
            "reconciliation",
            f"select account_id, currency, count(*) as invoices, sum(outstanding) as overdue, "
            f"max(days_overdue) as most_days, min(due_date) as oldest_due from {base} "
            "where days_overdue > 0 and outstanding > 0 and account_id is not null "
            "group by account_id, currency order by currency, overdue desc, account_id",
            [period],
        ),
        [
            Field("Account id", "account_id"),
            Field("Currency", "currency"),
            Field("Overdue invoices", "invoices", "int", True),
            Field("Overdue outstanding", "overdue", "money", True),
            Field("Most days overdue", "most_days", "int"),
            Field("Oldest due date", "oldest_due", "date"),
        ],
        key=lambda r: f"{r['account_id']} {r['currency']}",
    )


def _check_formula_values(problems: Problems, book: Book) -> None:
    """Every formula cell anywhere must carry a stored value that is not an error."""
    for sheet in book.values.sheetnames:
        for number, cells in enumerate(book.rows(sheet), start=1):
            for cell in cells:
                if cell.formula is None:
                    continue
                if isinstance(cell.value, str) and cell.value in ERROR_VALUES:
                    problems.add(f"{book.name} {sheet}", f"row {number}: {cell.value}")


CHECKS: dict[str, Callable[[Problems, Book, duckdb.DuckDBPyConnection, str], None]] = {
    "invoices": _check_invoices,
    "overage": _check_overage,
    "prepaid": _check_prepaid,
    "reconciliation": _check_reconciliation,
}


def verify_workbooks(
    con: duckdb.DuckDBPyConnection, period: str, reports_dir: Path, *, full: bool = True
) -> list[str]:
    """Discrepancies between `<reports_dir>/<period>/*.xlsx` and the warehouse (empty = good).

    `full=False` checks the cover sheets and every totals block only (what the close
    runs after writing: minutes saved at 100k accounts); `full=True` also compares
    every table row and every formula's stored value (what the tests run).
    """
    problems = Problems()
    folder = Path(reports_dir) / period
    for name, check in CHECKS.items():
        path = folder / f"{name}.xlsx"
        if not path.exists():
            problems.add(path.name, "missing")
            continue
        book = Book(path, full)
        try:
            _check_cover(problems, book, con, period)
            check(problems, book, con, period)
            if full:
                _check_formula_values(problems, book)
        finally:
            book.close()
    return problems.items
