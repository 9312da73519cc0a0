"""reconciliation.xlsx shows every open receivable (contract 3.1), names every
account, and lists held invoices the billing system billed anyway.

The fixture's ar_aging (tests/workbook_fixtures.py) is as of 2026-11-20 and
holds receivables of 2026-06 to 2026-10; its sums are worked out there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import openpyxl
import pytest

from closebook.workbooks import RunInfo, write_workbooks
from closebook.workbooks.warehouse import NO_ACCOUNT_ROW, NO_NAME
from tests.workbook_fixtures import PERIOD, build_warehouse

RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2026, 11, 20), "passed")
NAMES = ("invoices", "overage", "prepaid", "reconciliation")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    write_workbooks(build_warehouse(), PERIOD, out, RUN)
    return out


def _book(reports: Path, name: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(reports / PERIOD / f"{name}.xlsx", data_only=True)


def _table(ws, first_header: str) -> list[dict]:  # noqa: ANN001
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == first_header)
    headers = rows[start]
    return [dict(zip(headers, row, strict=False)) for row in rows[start + 1 :] if any(row)]


def test_ar_aging_lists_every_open_receivable_of_earlier_periods_too(reports: Path) -> None:
    aging = _table(_book(reports, "reconciliation")["AR aging"], "Invoice number")
    got = {
        r["Invoice number"]: (r["Invoice period"], r["Outstanding"], r["Aging bucket"])
        for r in aging
    }
    assert got == {
        "2026-10-A-100-OVERAGE": ("2026-10", 20, "current"),
        "2026-10-A-800-BASE": ("2026-10", 12345.68, "current"),
        "2026-10-P-500-PREPAID": ("2026-10", 4.1, "current"),
        "2026-10-Z-999-BASE": ("2026-10", 250, "current"),  # 300.00 - 50.00
        "2026-09-A-100-OVERAGE": ("2026-09", 499.99, "1-30"),  # 599.99 - 100.00, 18 days
        "2026-09-J-900-OVERAGE": ("2026-09", 3704, "1-30"),
        "2026-08-J-900-BASE": ("2026-08", 6173, "31-60"),  # 48 days
        "2026-08-A-700-BASE": ("2026-08", -2.31, "credit"),  # 2.69 - 5.00: overpaid
        "2026-07-A-800-OVERAGE": ("2026-07", 100, "61-90"),  # 79 days
        "2026-06-A-100-BASE": ("2026-06", 50, "90+"),  # 110 days
    }
    assert [r["Account id"] for r in aging] == sorted(r["Account id"] for r in aging)


def test_ar_aging_block_adds_up_each_currency_by_bucket(reports: Path) -> None:
    ws = _book(reports, "reconciliation")["AR aging"]
    header = [c.value for c in ws[1]]
    block = {
        row[0]: dict(zip(header, row, strict=False))
        for row in ws.iter_rows(min_row=2, max_row=4, values_only=True)
    }
    # USD current 20.00 + 12345.68 + 4.10 + 250.00 = 12619.78; total + 499.99 + 100 + 50
    assert block["USD"]["Current"] == pytest.approx(12619.78)
    assert block["USD"]["1-30 days"] == pytest.approx(499.99)
    assert block["USD"]["Total outstanding"] == pytest.approx(13269.77)
    assert block["JPY"]["31-60 days"] == 6173 and block["JPY"]["Total outstanding"] == 9877
    assert block["AUD"]["Credit (overpaid)"] == pytest.approx(-2.31)
    formulas = openpyxl.load_workbook(reports / PERIOD / "reconciliation.xlsx")["AR aging"]
    assert formulas["C2"].value.startswith("=SUMPRODUCT(EXACT(")


def test_past_due_accounts_come_from_every_period(reports: Path) -> None:
    past_due = _table(_book(reports, "reconciliation")["Past-due accounts"], "Account id")
    assert [
        (r["Account id"], r["Overdue invoices"], r["Overdue outstanding"]) for r in past_due
    ] == [
        ("J-900", 2, 9877),  # 6173 + 3704, JPY first
        ("A-100", 2, 549.99),  # 499.99 + 50.00; the current 20.00 is not overdue
        ("A-800", 1, 100),  # the 2026-10 base is not due yet
    ]
    assert past_due[1]["Most days overdue"] == 110
    assert past_due[1]["Oldest due date"] == dt.datetime(2026, 8, 2)
    formulas = openpyxl.load_workbook(reports / PERIOD / "reconciliation.xlsx")
    count = formulas["Past-due accounts"]["D2"].value
    assert count.startswith("=COUNTIFS('AR aging'!") and ",$A2," in count


def test_held_invoices_billed_anyway_are_exceptions(reports: Path) -> None:
    exceptions = _table(_book(reports, "reconciliation")["Exceptions"], "Invoice number")
    held_billed = [r for r in exceptions if r["Status"] == "matched"]
    # 2026-10-A-800-OVERAGE: held by closebook, billed 6172.84 and paid: status stays matched
    assert [(r["Invoice number"], r["Invoice status"]) for r in held_billed] == [
        ("2026-10-A-800-OVERAGE", "held")
    ]
    cover = [r[0] for r in _book(reports, "reconciliation")["Cover"].iter_rows(values_only=True)]
    assert "1 invoices held by closebook were billed anyway: see Exceptions." in cover


def test_account_names_come_from_accounts_and_are_never_blank(reports: Path) -> None:
    seen = {}
    for name in NAMES:
        for ws in _book(reports, name):
            rows = list(ws.iter_rows(values_only=True))
            for index, row in enumerate(rows):
                if "Account name" not in row or "Account id" not in row:
                    continue
                id_col, name_col = row.index("Account id"), row.index("Account name")
                for data in rows[index + 1 :]:
                    if data[id_col] is None:
                        continue
                    assert data[name_col] not in (None, ""), (ws.title, data)
                    seen[data[id_col]] = data[name_col]
                break
    assert seen["P-400"] == "Leeds & Sons <Ltd>"  # no invoice this period: from accounts
    assert seen["P-600"] == NO_NAME  # blank in the accounts export
    assert seen["Z-999"] == NO_ACCOUNT_ROW  # billed by the billing system, not our account
    assert seen["A-100"] == "Acme Corp"  # not 2026-09's "Old name"


def test_no_aging_without_the_table(tmp_path: Path) -> None:
    con: duckdb.DuckDBPyConnection = build_warehouse(skip=("ar_aging",))
    write_workbooks(con, PERIOD, tmp_path, RUN)
    wb = openpyxl.load_workbook(tmp_path / PERIOD / "reconciliation.xlsx", data_only=True)
    cover = [r[0] for r in wb["Cover"].iter_rows(values_only=True)]
    assert "No receivables aging: it needs both billed_invoices and payments." in cover
    assert _table(wb["AR aging"], "Invoice number") == []
