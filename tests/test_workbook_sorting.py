"""Sorting any data sheet, as a spreadsheet does, changes no figure.

An accountant sorts the register by total, the lines by description, the
aging by days overdue. Each case here sorts one data sheet of one workbook the
way Excel and LibreOffice do (whole rows of the table move; a reference to a
cell of the same row follows its row, `=ROUND(F7*G7,2)` on row 7 becoming
`=ROUND(F3*G3,2)` on row 3; references to other rows and other sheets stay),
recalculates the copy in LibreOffice, and compares every formula cell of
every sheet with the value closebook stored for it (the hand-made fixture and
the bundled sample, closed for real) (which tests/
test_workbooks.py checks against the warehouse), and the totals with the
warehouse again (`verify_workbooks`).

Needs `soffice`; skipped without it. All sorted copies are recalculated by
one LibreOffice process.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from closebook.pipeline import close_period
from closebook.workbooks import RunInfo, verify_workbooks, write_workbooks
from closebook.workbooks.libreoffice import recalculate, soffice_path
from tests.workbook_fixtures import PERIOD, build_warehouse

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(soffice_path() is None, reason="LibreOffice (soffice) is not installed"),
]

RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2026, 11, 20), "passed")
NAMES = ("invoices", "overage", "prepaid", "reconciliation")

# Every data sheet (a table with an autofilter) of the four workbooks, and the
# columns sorted: a text column descending and a number column ascending.
DATA_SHEETS = {
    "invoices": {
        "Invoice register": ("Invoice number", "Total"),
        "Invoice lines": ("Description", "Amount"),
        "License days": ("License id", "Days"),
        "Prepaid drawdown": ("Account id", "Drawdown"),
        "Rejected rows": ("Reason", "Line"),
    },
    "overage": {"Accounts over contract": ("Account name", "Overage amount")},
    "prepaid": {"Balance statement": ("Account id", "Closing balance")},
    "reconciliation": {
        "Exceptions": ("Invoice number", "Outstanding"),
        "AR aging": ("Account id", "Days overdue"),
        "Past-due accounts": ("Account id", "Overdue outstanding"),
        "All items": ("Status", "Computed amount"),
    },
}
CASES = [
    (book, sheet, column, descending)
    for book, sheets_ in DATA_SHEETS.items()
    for sheet, (text, number) in sheets_.items()
    for column, descending in ((text, True), (number, False))
]

# A1 references, skipping string literals and quoted sheet names.
_TOKEN = re.compile(
    r"\"(?:[^\"]|\"\")*\""  # a string literal
    r"|'(?:[^']|'')*'!\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?"  # quoted sheet + ref
    r"|[A-Za-z_][\w.]*!\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?"  # sheet + ref
    r"|(?<![\w$])(\$?[A-Z]{1,3})(\$?)(\d+)(?![\w(])"  # a ref on this sheet
)


def move_formula(formula: str, old_row: int, new_row: int) -> str:
    """A formula as it reads after its row moved: same-row references follow the row."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:  # a literal or another sheet: unchanged
            return match.group(0)
        column, absolute, row = match.group(1), match.group(2), int(match.group(3))
        if absolute or row != old_row:
            return match.group(0)
        return f"{column}{new_row}"

    return _TOKEN.sub(replace, formula)


def test_move_formula_follows_only_same_row_references() -> None:
    assert move_formula("=ROUND(F7*G7,2)", 7, 3) == "=ROUND(F3*G3,2)"
    assert move_formula("=SUM(C7:G7)", 7, 9) == "=SUM(C9:G9)"
    assert move_formula("=E7-$D$7+F8", 7, 2) == "=E2-$D$7+F8"
    keyed = "=SUMIFS('Invoice lines'!$I$2:$I$7,'Invoice lines'!$A$2:$A$7,$A7)"
    assert move_formula(keyed, 7, 4) == (
        "=SUMIFS('Invoice lines'!$I$2:$I$7,'Invoice lines'!$A$2:$A$7,$A4)"
    )
    assert move_formula('=IF(I7=0,"A7",1)', 7, 5) == '=IF(I5=0,"A7",1)'


def _sort_key(value: Any) -> tuple:
    """Numbers, then dates, then text (case-insensitive), as spreadsheets order them."""
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, dt.datetime | dt.date):
        return (1, value.isoformat())
    return (2, str(value).lower())


class _Reverse:
    """Wraps a key so that sorted() orders it descending (ties keep their order)."""

    def __init__(self, key: tuple) -> None:
        self.key = key

    def __lt__(self, other: _Reverse) -> bool:
        return other.key < self.key


def sort_sheet(
    formulas: openpyxl.Workbook,
    values: openpyxl.Workbook,
    sheet: str,
    column: str,
    descending: bool,
) -> dict[int, int]:
    """Sort the data rows of `sheet` in place by `column`; returns {new row: old row}.

    Blank cells go last either way, as in Excel.
    """
    ws, cached = formulas[sheet], values[sheet]
    min_col, header, max_col, last = range_boundaries(ws.auto_filter.ref)
    headers = [ws.cell(header, c).value for c in range(min_col, max_col + 1)]
    col = min_col + headers.index(column)
    rows = list(range(header + 1, last + 1))

    def key(row: int) -> tuple:
        value = cached.cell(row, col).value
        if value is None or value == "":
            return (True, None)
        return (False, _Reverse(_sort_key(value)) if descending else _sort_key(value))

    ordered = sorted(rows, key=key)
    snapshot = {
        r: [
            (ws.cell(r, c).value, ws.cell(r, c).data_type, ws.cell(r, c)._style)
            for c in range(min_col, max_col + 1)
        ]
        for r in rows
    }
    moves = dict(zip(rows, ordered, strict=True))
    for new_row, old_row in moves.items():
        for offset, (value, data_type, style) in enumerate(snapshot[old_row]):
            cell = ws.cell(new_row, min_col + offset)
            if data_type == "f" and isinstance(value, str):
                cell.value = move_formula(value, old_row, new_row)
            else:
                cell.value = value
                if data_type == "s" and isinstance(value, str):
                    cell.data_type = "s"  # text stays text, even "=1+1"
            cell._style = style
    return moves


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module", params=["fixture", "sample"])
def con(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> duckdb.DuckDBPyConnection:
    """The hand-made warehouse, and the bundled sample closed 2026-08..10 (as of 2026-11-20).

    The sample is the issue's case: sorting its lines changed 35 of 39 register totals.
    """
    if request.param == "fixture":
        return build_warehouse()
    folder = tmp_path_factory.mktemp("sample-close")
    warehouse = folder / "warehouse.duckdb"
    for period in ("2026-08", "2026-09", "2026-10"):
        close_period(period, SAMPLE, warehouse, folder / "reports", dt.date(2026, 11, 20))
    return duckdb.connect(str(warehouse), read_only=True)


@pytest.fixture(scope="module")
def sorted_books(
    con: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple, tuple[Path, Path, dict[str, dict[tuple[int, int], Any]]]]:
    """Per case: the recalculated sorted copy, its case folder and the values expected."""
    written = tmp_path_factory.mktemp("written")
    write_workbooks(con, PERIOD, written, RUN)
    sorted_dir = tmp_path_factory.mktemp("sorted")
    recalculated_dir = tmp_path_factory.mktemp("recalculated")
    cases: dict[tuple, tuple[Path, Path, dict]] = {}
    files = []
    for index, case in enumerate(CASES):
        book, sheet, column, descending = case
        source = written / PERIOD / f"{book}.xlsx"
        formulas = openpyxl.load_workbook(source)
        values = openpyxl.load_workbook(source, data_only=True)
        moves = sort_sheet(formulas, values, sheet, column, descending)
        expected: dict[str, dict[tuple[int, int], Any]] = {}
        for ws in formulas:
            cached = values[ws.title]
            want = expected[ws.title] = {}
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type != "f":
                        continue
                    source_row = moves.get(cell.row, cell.row) if ws.title == sheet else cell.row
                    want[(cell.row, cell.column)] = cached.cell(source_row, cell.column).value
        path = sorted_dir / f"case{index}-{book}.xlsx"
        formulas.save(path)
        files.append(path)
        # The case's folder for verify_workbooks: the sorted book, recalculated, and
        # the other three as written.
        folder = recalculated_dir / f"case{index}"
        (folder / PERIOD).mkdir(parents=True)
        for name in NAMES:
            if name != book:
                shutil.copy(written / PERIOD / f"{name}.xlsx", folder / PERIOD / f"{name}.xlsx")
        cases[case] = (recalculated_dir / "all" / f"case{index}-{book}.xlsx", folder, expected)
    recalculate(files, recalculated_dir / "all")
    for (book, *_), (path, folder, _) in cases.items():
        shutil.copy(path, folder / PERIOD / f"{book}.xlsx")
    return cases


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, int | float) and isinstance(got, int | float):
        return abs(got - want) <= 1e-9 * max(1.0, abs(want))
    return ("" if got is None else got) == ("" if want is None else want)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{b}:{s}:{c}:{'desc' if d else 'asc'}" for b, s, c, d in CASES]
)
def test_sorting_a_data_sheet_changes_no_figure(
    con: duckdb.DuckDBPyConnection, sorted_books: dict, case: tuple
) -> None:
    path, folder, expected = sorted_books[case]
    book, sheet, column, descending = case
    recalculated = openpyxl.load_workbook(path, data_only=True)
    wrong = []
    for sheet_name, cells in expected.items():
        ws = recalculated[sheet_name]
        for (row, col), want in cells.items():
            got = ws.cell(row, col).value
            if not _same(got, want):
                wrong.append(f"{sheet_name}!{ws.cell(row, col).coordinate}: {got!r} != {want!r}")
    assert wrong == [], f"sorted {sheet} by {column}: {wrong[:10]}"
    assert sum(len(cells) for cells in expected.values()) > 0
    assert verify_workbooks(con, PERIOD, folder) == []
