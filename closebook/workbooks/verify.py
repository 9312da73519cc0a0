"""The close's check of its own workbooks: covers and every totals block against the warehouse.

After writing, the close reads each workbook back (openpyxl, read-only: once
for formulas, once for the values stored with them, which are what a preview
or pandas shows) and compares the Cover's counts and every totals block (per
currency, per status, the AR aging block, the journal and its checks) with
GROUP BY queries of its own. It never reads the tables' rows, so it takes
well under a second at 100k accounts. The row-by-row comparison of every
table is a test (tests/workbook_verify.py), run on the test fixtures and on
LibreOffice-recalculated copies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import openpyxl

from .formats import minor_unit
from .journal import TIES, journal_figures, journal_line_amount
from .warehouse import fetch, table_exists

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

    def __init__(self, path: Path) -> None:
        self.name = path.name
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

    def table(self, base: str, first_header: str | None = None) -> Iterator[dict[str, Read]]:
        """Data rows of a table over all its parts, as {header: Read}; blank rows skipped.

        The header is the first row, or (a table under a block, e.g. AR aging)
        the first row whose first cell is `first_header`.
        """
        for sheet in self.parts(base):
            headers: list[str] | None = None
            for cells in self.rows(sheet):
                if headers is None:
                    if first_header is None or (cells and cells[0].value == first_header):
                        headers = [str(c.value) if c.value is not None else "" for c in cells]
                    continue
                if all(c.value in (None, "") and c.formula is None for c in cells):
                    continue
                yield dict(zip(headers, cells, strict=False))

    def blocks(self, sheet: str, limit: int | None = None) -> list[list[dict[str, Read]]]:
        """Blocks of a totals sheet: a header row, its rows, a blank row, the next block.

        `limit`: stop after that many blocks (the block above a long table).
        """
        blocks: list[list[dict[str, Read]]] = []
        headers: list[str] | None = None
        for cells in self.rows(sheet):
            if all(c.value in (None, "") and c.formula is None for c in cells):
                headers = None
                continue
            if headers is None:
                if limit is not None and len(blocks) == limit:
                    break
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


def check_cover(
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


MONEY_TOTALS = (("Total", "total"), ("Issued total", "issued_total"), ("Held total", "held_total"))


def check_invoices_totals(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    """Totals by currency (and by currency and type), and the journal."""
    has_lines = table_exists(con, "invoice_lines")
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
    money = [Field(h, c, "money", formula=True) for h, c in MONEY_TOTALS]
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
        [Field("Currency", "currency")],
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
        [Field("Currency", "currency"), Field("Type code", "invoice_type")],
        [Field("Invoices", "invoices", "int", formula=True), *money],
    )
    check_journal(problems, book, con, period)


def check_journal(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    """Every journal figure equals the warehouse's, and every check on the sheet says it ties."""
    where = f"{book.name} Journal"
    if "Journal" not in book.values.sheetnames:
        problems.add(where, "missing")
        return
    figures = {f.currency: f for f in journal_figures(con, period)}
    seen: set[str] = set()
    for number, cells in enumerate(book.rows("Journal"), start=1):
        if number == 1 or len(cells) < 4 or cells[0].value in (None, ""):
            continue
        currency = str(cells[0].value)
        entry, line = cells[1].value, cells[2].value
        fig = figures.get(currency)
        if fig is None:
            problems.add(where, f"row {number}: {currency} has nothing to post in the warehouse")
            continue
        seen.add(currency)
        if entry == "Check":
            if cells[3].value != TIES or cells[3].formula is None:
                problems.add(where, f"row {number}: {currency} {line}: {cells[3].value!r}")
            continue
        expected = journal_line_amount(fig, str(line))
        got = next((c for c in cells[4:6] if c.value not in (None, "")), None)
        if expected is None or got is None:
            problems.add(where, f"row {number}: unexpected line {line!r}")
        elif got.formula is None or not same_amount(got.value, expected, minor_unit(currency)):
            problems.add(where, f"{currency} {line} is {got.value!r}, warehouse says {expected}")
    for currency in sorted(set(figures) - seen):
        problems.add(where, f"no entries for {currency}")


def check_overage_totals(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    where = "from main.hwm_usage where period = ? and overage_quantity > 0"
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


def check_prepaid_totals(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
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


AGING_BUCKETS = {
    "Current": "current",
    "1-30 days": "1-30",
    "31-60 days": "31-60",
    "61-90 days": "61-90",
    "Over 90 days": "90+",
    "Credit (overpaid)": "credit",
}


def check_reconciliation_totals(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    """The Summary's status block and the AR aging sheet's currency x bucket block."""
    base = "(select * from main.reconciliation where period = ?)"
    amounts = ("computed_amount", "billed_amount", "difference", "paid_amount", "outstanding")
    sums = ", ".join(f"coalesce(sum({c}), 0) as {c}" for c in amounts)
    by_status = _rows(
        con,
        "reconciliation",
        f"select status, coalesce(currency, '(none)') as currency_label, currency, "
        f"count(*) as items, {sums} from {base} group by status, currency",
        [period],
    )
    headers = ("Computed amount", "Billed amount", "Difference", "Paid", "Outstanding")
    compare_block(
        problems,
        book,
        "Summary",
        (book.blocks("Summary") + [[]])[0],
        by_status,
        [Field("Status", "status"), Field("Currency", "currency_label")],
        [
            Field("Items", "items", "int", True),
            *(Field(h, c, "money", True) for h, c in zip(headers, amounts, strict=True)),
        ],
    )
    bucket_sums = ", ".join(
        f"coalesce(sum(outstanding) filter (where aging_bucket = '{b}'), 0) as \"{b}\""
        for b in AGING_BUCKETS.values()
    )
    compare_block(
        problems,
        book,
        "AR aging by currency",
        (book.blocks("AR aging", limit=1) + [[]])[0],
        _rows(
            con,
            "ar_aging",
            f"select currency, {bucket_sums}, sum(outstanding) as total from main.ar_aging "
            "where period = ? group by currency",
            [period],
        ),
        [Field("Currency", "currency")],
        [
            *(Field(h, b, "money", True) for h, b in AGING_BUCKETS.items()),
            Field("Total outstanding", "total", "money", True),
        ],
    )


def check_formula_values(problems: Problems, book: Book) -> None:
    """Every formula cell anywhere must carry a stored value that is not an error."""
    for sheet in book.values.sheetnames:
        for number, cells in enumerate(book.rows(sheet), start=1):
            for cell in cells:
                if cell.formula is None:
                    continue
                if isinstance(cell.value, str) and cell.value in ERROR_VALUES:
                    problems.add(f"{book.name} {sheet}", f"row {number}: {cell.value}")


Check = Callable[[Problems, Book, duckdb.DuckDBPyConnection, str], None]
TOTALS_CHECKS: dict[str, Check] = {
    "invoices": check_invoices_totals,
    "overage": check_overage_totals,
    "prepaid": check_prepaid_totals,
    "reconciliation": check_reconciliation_totals,
}


def verify_workbooks(
    con: duckdb.DuckDBPyConnection,
    period: str,
    reports_dir: Path,
    extra: dict[str, Check] | None = None,
) -> list[str]:
    """Discrepancies between the covers and totals of `<reports_dir>/<period>/*.xlsx`
    and the warehouse (empty = good).

    `extra` adds a check per workbook (the tests' row-by-row comparison).
    """
    problems = Problems()
    folder = Path(reports_dir) / period
    for name, check in TOTALS_CHECKS.items():
        path = folder / f"{name}.xlsx"
        if not path.exists():
            problems.add(path.name, "missing")
            continue
        book = Book(path)
        try:
            check_cover(problems, book, con, period)
            check(problems, book, con, period)
            if extra and name in extra:
                extra[name](problems, book, con, period)
        finally:
            book.close()
    return problems.items
