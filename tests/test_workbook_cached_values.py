"""Formula results are stored with their type, so a viewer that never recalculates
(a mail preview, pandas, openpyxl) shows the right value.

XlsxWriter stores an empty-text result as `<v></v>` with no type, which reads as
an empty number; the prepaid runway `=IF(I=0,"",...)` of an account with no
charge is such a result.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl

from closebook.workbooks import RunInfo, sheets, write_workbooks
from tests.workbook_fixtures import PERIOD, build_warehouse

RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 20, 6), dt.date(2026, 11, 20), "passed")


def _cell_xml(path: Path, sheet_index: int, ref: str) -> str:
    with zipfile.ZipFile(path) as archive:
        xml = archive.read(f"xl/worksheets/sheet{sheet_index}.xml").decode()
    match = re.search(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', xml)
    assert match, ref
    return match.group(0)


def test_an_empty_text_result_is_stored_as_text(tmp_path: Path) -> None:
    write_workbooks(build_warehouse(), PERIOD, tmp_path, RUN)
    path = tmp_path / PERIOD / "prepaid.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Balance statement"]
    headers = [c.value for c in ws[1]]
    runway = headers.index("Runway months") + 1
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    # P-600: charge 0 -> runway formula gives "" (no runway), a text result.
    ref = ws.cell(rows["P-600"], runway).coordinate
    assert ws.cell(rows["P-600"], runway).value.startswith("=IF(")
    sheet_index = wb.sheetnames.index("Balance statement") + 1
    assert 't="str"' in _cell_xml(path, sheet_index, ref)
    # P-400: floor(40 / 30) = 1, a number (no type attribute: numeric).
    numeric = _cell_xml(path, sheet_index, ws.cell(rows["P-400"], runway).coordinate)
    assert "t=" not in numeric and "<v>1</v>" in numeric


def test_every_result_type_is_written_as_xlsxwriter_types_it(tmp_path: Path) -> None:
    path = tmp_path / "types.xlsx"
    with sheets.Workbook(str(path), sheets.WORKBOOK_OPTIONS) as wb:
        fmt = wb.add_format({"num_format": "0.00"})
        ws = wb.add_worksheet()
        for row, value in enumerate(("", "text", True, 2.5, 3, "#N/A")):
            ws.write_formula(row, 0, "=A10", fmt, value)
            ws.write_formula(row, 1, "=A10", None, value)
    values = openpyxl.load_workbook(path, data_only=True).active
    for col in (1, 2):
        assert values.cell(2, col).value == "text"
        assert values.cell(3, col).value is True
        assert values.cell(4, col).value == 2.5
        assert values.cell(5, col).value == 3
        assert values.cell(6, col).value == "#N/A"
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<c r="A1" s="\d+" t="str"><f>A10</f><v></v></c>', xml)
    assert '<c r="B1" t="str"><f>A10</f><v></v></c>' in xml
