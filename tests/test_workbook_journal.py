"""The journal summary of invoices.xlsx: what the accountant posts, per currency.

By hand, from tests/workbook_fixtures.py (issued invoices only; held ones are
not revenue):
- USD: base 119.00 + 12345.68 = 12464.68; overage 25.50 (A-800's 6172.84 is
  held); prepaid shortfall 4.10; receivable 12464.68 + 25.50 + 4.10 = 12494.28;
  drawdown P-500 15.25 (charge 19.35 - shortfall 4.10)
- JPY: base 6173, overage 3704, license days 2226; receivable 12103
- AUD: base 2.69; GBP: drawdown P-400 30.00, nothing invoiced
- EUR: its only invoice is held, CAD: P-600 has no charge: nothing to post
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from closebook import pipeline
from closebook.workbooks import RunInfo, verify_workbooks, write_workbooks
from closebook.workbooks.journal import (
    GL_ACCOUNT_DEFAULTS,
    ConfigError,
    load_gl_accounts,
)
from closebook.workbooks.libreoffice import recalculate, soffice_path
from tests.workbook_fixtures import PERIOD, build_warehouse

RUN = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2026, 11, 20), "passed")


def _journal(path: Path, data_only: bool = True) -> list[tuple]:
    ws = openpyxl.load_workbook(path, data_only=data_only)["Journal"]
    return [row for row in ws.iter_rows(min_row=2, values_only=True) if row[0]]


def _amounts(rows: list[tuple]) -> dict[tuple[str, str], Decimal]:
    out = {}
    for currency, entry, line, _gl, debit, credit in rows:
        if entry != "Check":
            amount = debit if debit is not None else credit
            out[(currency, line)] = Decimal(str(amount)).quantize(Decimal("0.01"))
    return out


@pytest.fixture(scope="module")
def invoices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    write_workbooks(build_warehouse(), PERIOD, out, RUN)
    return out / PERIOD / "invoices.xlsx"


def test_journal_figures_by_hand(invoices: Path) -> None:
    amounts = _amounts(_journal(invoices))
    assert {currency for currency, _ in amounts} == {"AUD", "GBP", "JPY", "USD"}
    assert amounts[("USD", "Accounts receivable")] == Decimal("12494.28")
    assert amounts[("USD", "Revenue: base subscriptions")] == Decimal("12464.68")
    assert amounts[("USD", "Revenue: overage")] == Decimal("25.50")
    assert amounts[("USD", "Revenue: prepaid shortfall invoices")] == Decimal("4.10")
    assert amounts[("USD", "Customer prepayments released")] == Decimal("15.25")
    assert amounts[("USD", "Revenue: prepaid usage from balances")] == Decimal("15.25")
    assert amounts[("JPY", "Accounts receivable")] == Decimal("12103")
    assert amounts[("JPY", "Revenue: license days")] == Decimal("2226")
    assert amounts[("AUD", "Revenue: base subscriptions")] == Decimal("2.69")
    assert amounts[("GBP", "Accounts receivable")] == 0
    assert amounts[("GBP", "Customer prepayments released")] == Decimal("30.00")


def test_every_check_ties_and_every_figure_is_a_formula(invoices: Path) -> None:
    values, formulas = _journal(invoices), _journal(invoices, data_only=False)
    checks = [row for row in values if row[1] == "Check"]
    assert len(checks) == 4 * 4  # four checks per currency
    assert {row[3] for row in checks} == {"Ties"}
    for row in formulas:
        figures = row[3:4] if row[1] == "Check" else row[4:6]
        assert all(v is None or str(v).startswith("=") for v in figures), row
    receivable = next(r for r in formulas if r[0] == "USD" and r[2] == "Accounts receivable")
    assert "SUMIFS('Invoice register'!" in receivable[4] and '"issued"' in receivable[4]


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice_path() is None, reason="LibreOffice (soffice) is not installed")
def test_a_journal_that_does_not_tie_says_so(invoices: Path, tmp_path: Path) -> None:
    # Someone types over the USD overage credit (25.50 -> 0): after recalculation the
    # entry no longer balances and the revenue lines no longer add up to the receivable.
    wb = openpyxl.load_workbook(invoices)
    ws = wb["Journal"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "USD" and row[2].value == "Revenue: overage":
            row[5].value = 0
    path = tmp_path / "invoices.xlsx"
    wb.save(path)
    recalculated = recalculate([path], tmp_path / "recalculated")[0]
    checks = {(r[0], r[2]): r[3] for r in _journal(recalculated) if r[1] == "Check"}
    assert checks[("USD", "Debits equal credits")] == "Does not tie"
    assert checks[("USD", "Revenue by type adds up to the receivable")] == "Does not tie"
    assert checks[("USD", "Receivable equals the issued total of Totals by currency")] == "Ties"
    assert checks[("JPY", "Debits equal credits")] == "Ties"


def test_gl_accounts_come_from_closebook_toml(tmp_path: Path) -> None:
    config = tmp_path / "closebook.toml"
    config.write_text('[gl_accounts]\naccounts_receivable = "1100 Trade debtors"\n')
    accounts = load_gl_accounts(config)
    assert accounts["accounts_receivable"] == "1100 Trade debtors"
    assert accounts["revenue_base"] == GL_ACCOUNT_DEFAULTS["revenue_base"]
    assert load_gl_accounts(tmp_path / "absent.toml") == GL_ACCOUNT_DEFAULTS
    run = RunInfo(PERIOD, RUN.run_started_at, RUN.as_of, gl_accounts=accounts)
    con = build_warehouse()
    write_workbooks(con, PERIOD, tmp_path, run)
    rows = _journal(tmp_path / PERIOD / "invoices.xlsx")
    assert {r[3] for r in rows if r[2] == "Accounts receivable"} == {"1100 Trade debtors"}
    assert verify_workbooks(con, PERIOD, tmp_path) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[gl_accounts]\nreceivables = "1100"\n', "unknown gl_accounts key 'receivables'"),
        ("[gl_accounts]\naccounts_receivable = 1100\n", "must be a non-empty text"),
        ("[gl_accounts\n", "not readable TOML"),
    ],
)
def test_a_bad_config_stops_the_close_with_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "closebook.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_gl_accounts(tmp_path / "closebook.toml")
    with pytest.raises(pipeline.CloseFailed) as failed:
        pipeline.CloseContext.create(PERIOD, tmp_path, tmp_path / "w.duckdb", tmp_path)
    assert message in str(failed.value) and "\n" not in str(failed.value)
    assert not (tmp_path / "w.duckdb").exists()  # nothing written
