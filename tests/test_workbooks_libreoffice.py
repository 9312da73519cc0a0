"""The workbooks recalculated by LibreOffice: the formulas, not only the stored
values, give the warehouse's figures, and input text is never run as a formula.

Needs `soffice` (scripts/install_libreoffice.sh); skipped without it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlsxwriter

from closebook.workbooks import RunInfo, sheets, write_workbooks
from closebook.workbooks.libreoffice import recalculate, soffice_path
from tests.workbook_fixtures import INJECTIONS, PERIOD, build_warehouse
from tests.workbook_verify import verify_full

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(
        soffice_path() is None,
        reason="LibreOffice (soffice) is not installed: run scripts/install_libreoffice.sh",
    ),
]

NAMES = ("invoices", "overage", "prepaid", "reconciliation")
RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2027, 2, 15), "passed")


def _sanity_workbooks(folder: Path) -> list[Path]:
    """Two tiny workbooks that tell whether LibreOffice recalculates and how it reads text.

    `stale.xlsx` stores 5 as the value of =1+1 (so a recalculating load shows 2);
    `shared.xlsx` stores "=1+1" as a *shared* string (not constant_memory's
    inline strings), the case a careless importer might evaluate.
    """
    stale = folder / "stale.xlsx"
    with xlsxwriter.Workbook(stale) as wb:
        wb.add_worksheet().write_formula("A1", "=1+1", None, 5)
    shared = folder / "shared.xlsx"
    with xlsxwriter.Workbook(shared, {"strings_to_formulas": False}) as wb:
        ws = wb.add_worksheet()
        for row, text in enumerate(INJECTIONS):
            ws.write_string(row, 0, text)
    return [stale, shared]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return build_warehouse()


@pytest.fixture(scope="module")
def recalculated(
    con: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Workbooks written normally and with tables split (8 rows a sheet), then recalculated."""
    roots = {}
    for kind, limit in (("normal", sheets.MAX_ROWS_PER_SHEET), ("split", 8)):
        written = tmp_path_factory.mktemp(f"{kind}-written")
        original = sheets.MAX_ROWS_PER_SHEET
        sheets.MAX_ROWS_PER_SHEET = limit
        try:
            files = write_workbooks(con, PERIOD, written, RUN)
        finally:
            sheets.MAX_ROWS_PER_SHEET = original
        if kind == "normal":
            files += _sanity_workbooks(written)
        root = tmp_path_factory.mktemp(f"{kind}-recalculated")
        recalculate(files, root / PERIOD)  # one soffice process for all the files
        roots[kind] = root
    return roots


def test_libreoffice_really_recalculates(recalculated: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(recalculated["normal"] / PERIOD / "stale.xlsx", data_only=True)
    assert wb.active["A1"].value == 2


def test_libreoffice_reads_shared_strings_starting_with_equals_as_text(
    recalculated: dict[str, Path],
) -> None:
    path = recalculated["normal"] / PERIOD / "shared.xlsx"
    values = [r[0] for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]
    assert values == list(INJECTIONS)


@pytest.mark.parametrize("kind", ["normal", "split"])
def test_recalculated_figures_equal_the_warehouse(
    con: duckdb.DuckDBPyConnection, recalculated: dict[str, Path], kind: str
) -> None:
    assert verify_full(con, PERIOD, recalculated[kind]) == []


def test_recalculated_totals_by_hand(recalculated: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(recalculated["normal"] / PERIOD / "invoices.xlsx", data_only=True)
    totals = {
        r[0]: r[4]
        for r in wb["Totals by currency"].iter_rows(min_row=2, max_row=5, values_only=True)
    }
    assert round(totals["USD"], 2) == 18667.12  # 119.00 + 25.50 + 12345.68 + 6172.84 + 4.10
    assert totals["JPY"] == 12103  # 2226 + 6173 + 3704
    assert round(totals["AUD"], 2) == 2.69  # 3 x 0.895 = 2.685, half-up
    lines = {(r[0], r[1]): r[8] for r in wb["Invoice lines"].iter_rows(min_row=2, values_only=True)}
    assert lines[("2026-10-J-300-LICENSE", 1)] == 1742  # 45 x 1200 / 31 = 1741.94


def test_input_text_survives_as_text(recalculated: dict[str, Path]) -> None:
    found = set()
    for name in NAMES:
        wb = openpyxl.load_workbook(recalculated["normal"] / PERIOD / f"{name}.xlsx")
        for ws in wb:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value in INJECTIONS:
                        assert cell.data_type == "s"
                        found.add(cell.value)
                    if cell.data_type == "f":
                        assert "HYPERLINK" not in cell.value and "1+1" not in cell.value
    assert found == set(INJECTIONS)
