"""What a person sees: labels, wrapped text, accounting negatives, print size,
paper, and charts fed by their own sheet's cells."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from closebook.workbooks import RunInfo, sheets, write_workbooks
from tests.workbook_fixtures import PERIOD, build_warehouse

RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2026, 11, 20), "passed")
NAMES = ("invoices", "overage", "prepaid", "reconciliation")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    write_workbooks(build_warehouse(), PERIOD, out, RUN)
    return out / PERIOD


def _register(reports: Path) -> dict[str, dict]:
    ws = openpyxl.load_workbook(reports / "invoices.xlsx")["Invoice register"]
    headers = [c.value for c in ws[1]]
    return {row[0].value: dict(zip(headers, row, strict=False)) for row in ws.iter_rows(min_row=2)}


def test_labels_a_person_reads_beside_the_codes(reports: Path) -> None:
    register = _register(reports)
    license_row = register["2026-10-J-300-LICENSE"]
    assert (license_row["Invoice type"].value, license_row["Type code"].value) == (
        "License days",
        "license_days",
    )
    assert (license_row["Payment action"].value, license_row["Action code"].value) == (
        "Send invoice",
        "send_invoice",
    )


def test_long_text_wraps_and_its_row_grows(reports: Path) -> None:
    register = _register(reports)
    held = register["2026-10-A-800-OVERAGE"]
    assert held["Hold reason"].alignment.wrap_text
    wb = openpyxl.load_workbook(reports / "invoices.xlsx")
    assert wb["Invoice lines"]["E2"].alignment.wrap_text  # Description
    rejected = wb["Rejected rows"]
    assert rejected["D2"].alignment.wrap_text and rejected["E2"].alignment.wrap_text
    names = openpyxl.load_workbook(reports / "reconciliation.xlsx")["AR aging"]
    assert names["C8"].alignment.wrap_text  # the table's first Account name


def test_a_row_of_long_text_is_made_tall_enough(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with sheets.Workbook(str(path), sheets.WORKBOOK_OPTIONS) as workbook:
        fmts = sheets.Formats(workbook)
        table = sheets.TableSheet(
            workbook, fmts, "T", [sheets.Column("Reason", 20, wrap=True), sheets.Column("N")]
        )
        # 20 units x 1.15 = 23 characters a line: 60 characters need 3 lines
        table.append([sheets.Text("x" * 60, fmts.text(wrap=True)), sheets.Number(1)])
        table.append([sheets.Text("short", fmts.text(wrap=True)), sheets.Number(2)])
        table.finish()
    ws = openpyxl.load_workbook(path)["T"]
    assert ws.row_dimensions[2].height == 3 * sheets.LINE_HEIGHT
    assert ws.row_dimensions[3].height is None


def test_negative_amounts_in_accounting_style(reports: Path) -> None:
    ws = openpyxl.load_workbook(reports / "reconciliation.xlsx")["AR aging"]
    fmt = ws["G2"].number_format  # AUD credit -2.31
    assert fmt == '"AUD "#,##0.00_);"AUD "(#,##0.00)'


def _paper_and_scale(path: Path) -> dict[str, tuple]:
    out = {}
    for ws in openpyxl.load_workbook(path):
        out[ws.title] = (ws.page_setup.paperSize, ws.page_setup.scale, ws.page_setup.fitToHeight)
    return out


def test_letter_by_default_and_never_printed_below_80_percent(reports: Path) -> None:
    for name in NAMES:
        for sheet, (paper, scale, _) in _paper_and_scale(reports / f"{name}.xlsx").items():
            assert int(paper) == 1, (name, sheet)  # Letter
            assert scale is None or int(scale) >= sheets.MIN_PRINT_SCALE, (name, sheet, scale)
    # the prepaid statement (16 columns, 228 units) prints at 80 %, on pages across
    statement = _paper_and_scale(reports / "prepaid.xlsx")["Balance statement"]
    assert int(statement[1]) == 80


def test_a4_when_asked(tmp_path: Path) -> None:
    write_workbooks(build_warehouse(), PERIOD, tmp_path, dataclasses.replace(RUN, paper="a4"))
    for name in NAMES:
        papers = {
            int(p) for p, _, _ in _paper_and_scale(tmp_path / PERIOD / f"{name}.xlsx").values()
        }
        assert papers == {9}  # A4
    with pytest.raises(ValueError, match="letter or a4"):
        dataclasses.replace(RUN, paper="legal")


def _charts(path: Path) -> dict[str, list[str]]:
    """Each chart part's series references (sheet!range)."""
    with zipfile.ZipFile(path) as archive:
        return {
            name: re.findall(r"<c:f>([^<]+)</c:f>", archive.read(name).decode())
            for name in archive.namelist()
            if name.startswith("xl/charts/chart")
        }


@pytest.mark.parametrize(
    ("book", "sheet", "count"),
    [
        ("reconciliation", "'AR aging'", 3),  # AUD, JPY, USD receivables by bucket
        ("invoices", "Journal", 4),  # AUD, GBP, JPY, USD revenue by type
        ("overage", "'Totals by currency'", 2),  # JPY, USD overage by period
    ],
)
def test_charts_are_fed_by_their_own_sheet(
    reports: Path, book: str, sheet: str, count: int
) -> None:
    charts = _charts(reports / f"{book}.xlsx")
    assert len(charts) == count
    for refs in charts.values():
        assert refs and all(ref.startswith(f"{sheet}!$") for ref in refs), refs
    aging = _charts(reports / "reconciliation.xlsx")
    usd = next(refs for refs in aging.values() if "$4" in refs[-1])
    # categories: the bucket headers B1:G1; values: the USD row of the block, B4:G4
    assert usd[-2:] == ["'AR aging'!$B$1:$G$1", "'AR aging'!$B$4:$G$4"]
