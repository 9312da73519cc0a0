"""Validation (closebook/validation/): every expectation fails on data made to break it, the
invoice it concerns is held, a failure with no invoice to hold fails the run, and a clean
build passes everything.

One build of 2026-10 is shared (copied per test). Each tamper below breaks one rule for one
account of its own, so all of them can run in one validation and each failure still
points at exactly the invoice its tamper concerns.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from closebook.validation import (
    INPUT_CHECKS,
    OUTPUT_CHECKS,
    ValidationResult,
    record_external_check,
    validate_close,
)
from tests.exports import account, build, rows, write_exports

PERIOD = "2026-10"


def snap(
    account_id: str, quantity: int, observed_at: str = "2026-10-05", metric: str = "users"
) -> dict[str, object]:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": metric,
        "quantity": str(quantity),
    }


def issued(event_id: str, account_id: str, product: str, at: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "license_id": f"lic-{event_id}",
        "account_id": account_id,
        "product": product,
        "event": "issued",
        "occurred_at": at,
    }


def purchase(txn_id: str, account_id: str, amount: str, at: str) -> dict[str, object]:
    return {
        "txn_id": txn_id,
        "account_id": account_id,
        "occurred_at": at,
        "kind": "purchase",
        "amount": amount,
    }


# Known answers (2026-10 has 31 days):
# - B*: hwm C = 0, 2 users x 10.00 = 20.00 BASE; O*: C = 3, HWM 5: BASE 30.00, OVERAGE 20.00
# - B13: snapshots 2 then 1: HWM 2, BASE 20.00
# - C8: 6 users carried in from September, 1 in October: HWM 6, BASE 60.00
# - J1: 1 user x 1234.5 JPY = 1234.5 -> 1235
# - L1: backup since 2026-09-01: 31 days x 4.95 / 31 = 4.95; L2: backup from 2026-10-11:
#   21 days x 4.95 / 31 = 3.3532 -> 3.35; L3: scan since 2026-09-15: 31 x 3.10 / 31 = 3.10
# - P1: 5.00 bought in October, 4 devices x 2.00 = 8.00: drawdown 5.00, shortfall 3.00
# - P2: 10.00 bought in September, charge 8.00, closing 2.00; October charge 8.00,
#   drawdown 2.00, shortfall 6.00
# - Z0: hwm C = 0 with no usage: HWM 0, a zero total: no invoice at all
HWM_ACCOUNTS = ["B1", "B2", "B4", "B7", "B12", "B13", "B16", "A2"]
EXPORTS = {
    "accounts": [
        *(account(a) for a in HWM_ACCOUNTS),
        account("O1", contracted_quantity="3"),
        account("O2", contracted_quantity="3"),
        account("C8"),
        account("J1", currency="JPY", unit_price="1234.5"),
        account("L1", "license_day"),
        account("L2", "license_day"),
        account("L3", "license_day"),
        account("P1", "prepaid", unit_price="2.00"),
        account("P2", "prepaid", unit_price="2.00"),
        account("Z0"),
    ],
    "license_prices": [
        {"product": "backup", "currency": "USD", "unit_price": "4.95"},
        {"product": "scan", "currency": "USD", "unit_price": "3.10"},
    ],
    "usage_snapshots": [
        *(snap(a, 2) for a in HWM_ACCOUNTS if a != "B13"),
        snap("B13", 2, "2026-10-01"),
        snap("B13", 1, "2026-10-02"),
        snap("O1", 5),
        snap("O2", 5),
        snap("C8", 6, "2026-09-20"),
        snap("C8", 1, "2026-10-10"),
        snap("J1", 1),
        snap("P1", 4, metric="devices"),
        snap("P2", 4, "2026-09-02", metric="devices"),
    ],
    "license_events": [
        issued("e1", "L1", "backup", "2026-09-01"),
        issued("e2", "L2", "backup", "2026-10-11T08:00:00Z"),
        issued("e3", "L3", "scan", "2026-09-15"),
    ],
    "balance_transactions": [
        purchase("t1", "P1", "5.00", "2026-10-01"),
        purchase("t2", "P2", "10.00", "2026-09-01"),
    ],
    "billed_invoices": [
        {
            "invoice_number": "2026-10-B16-BASE",
            "account_id": "B16",
            "period": PERIOD,
            "currency": "USD",
            "amount": "20.00",
        },
    ],
    "payments": [
        {
            "payment_id": "pay-1",
            "invoice_number": "2026-10-B1-BASE",
            "amount": "20.00",
            "paid_at": "2026-11-20",
        },
    ],
}


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    database = folder / "close.duckdb"
    con = build(write_exports(folder / "in", **EXPORTS), PERIOD, database=str(database))
    con.close()
    return database


@pytest.fixture
def con(built_db: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    copy = tmp_path / "close.duckdb"
    shutil.copy(built_db, copy)
    connection = duckdb.connect(str(copy))
    connection.execute("set search_path = 'build,main'")
    return connection


def invoices(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    return {r["invoice_number"]: r for r in rows(con, "select * from build.invoices")}


def test_the_fixture_bills_what_the_comments_say(con: duckdb.DuckDBPyConnection) -> None:
    totals = {number: str(r["total"]) for number, r in invoices(con).items()}
    assert totals["2026-10-O1-BASE"] == "30.00" and totals["2026-10-O1-OVERAGE"] == "20.00"
    assert totals["2026-10-C8-BASE"] == "60.00"
    assert totals["2026-10-J1-BASE"] == "1235.00"
    assert totals["2026-10-L2-LICENSE"] == "3.35"
    assert totals["2026-10-P1-PREPAID"] == "3.00" and totals["2026-10-P2-PREPAID"] == "6.00"
    assert not any("Z0" in number for number in totals)
    assert {r["status"] for r in invoices(con).values()} == {"issued"}


def test_a_clean_build_passes_every_check(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    result = validate_close(con, PERIOD, tmp_path / "report")
    assert [c for c in result.checks if c.status != "passed"] == []
    assert (result.failed, result.held_invoices, result.run_failed) == ([], [], False)
    expected_checks = {c.name for c in (*INPUT_CHECKS, *OUTPUT_CHECKS)} | {"invoices_expected"}
    assert {c.check for c in result.checks} == expected_checks
    stored = rows(con, "select * from build.validation_results")
    assert len(stored) == len(result.checks)
    assert {r["status"] for r in stored} == {"passed"} and {r["period"] for r in stored} == {PERIOD}
    assert result.report_path == tmp_path / "report" / "validation.html"
    page = result.report_path.read_text()
    assert "all checks passed" in page and "the total equals the sum of its lines" in page
    assert {r["status"] for r in invoices(con).values()} == {"issued"}


# (SQL that breaks one rule, the check and frame column that must fail, invoices it holds)
TAMPERS = [
    (
        "update invoices set total = total + 1 where account_id = 'B1'",
        "invoice_totals",
        "total_minus_lines_hundredths",
        {"2026-10-B1-BASE"},
    ),
    (
        "insert into invoice_lines values "
        "('2026-10-B2-BASE', 2, 'credit', 1, -5, -5.00, '2026-10', null, null)",
        "invoice_totals",
        "negative_lines",
        {"2026-10-B2-BASE"},
    ),
    (
        "insert into invoice_lines values "
        "('2026-10-B2-BASE', 2, 'credit', 1, -5, -5.00, '2026-10', null, null)",
        "invoice_lines_rounded",
        "amount_hundredths",
        {"2026-10-B2-BASE"},
    ),
    (
        "delete from invoices where invoice_number = '2026-10-O1-OVERAGE'",
        "invoices_expected",
        "actual_minus_expected_count",
        {"2026-10-O1-BASE"},
    ),
    (
        # int_usage_snapshots is a view of the staging rows not set aside, and staging a
        # view of the rows the load stored (typed): tamper there
        "insert into raw_usage_snapshots_rows "
        "select * from raw_usage_snapshots_rows where account_id = 'B4'",
        "int_usage_snapshots_key_unique",
        "copies",
        {"2026-10-B4-BASE"},
    ),
    (
        "update invoice_lines set amount = 1234.50 where invoice_number = '2026-10-J1-BASE'",
        "invoice_lines_rounded",
        "rounding_left_hundredths",
        {"2026-10-J1-BASE"},
    ),
    (
        "update hwm_usage set overage_quantity = 1 where account_id = 'O2'",
        "hwm_overage",
        "overage_minus_expected",
        {"2026-10-O2-BASE", "2026-10-O2-OVERAGE"},
    ),
    (
        "update hwm_usage set hwm = 1 where account_id = 'B7'",
        "hwm_covers_snapshots",
        "hwm_minus_period_peak",
        {"2026-10-B7-BASE"},
    ),
    (
        "update hwm_usage set hwm = 1 where account_id = 'C8'",
        "hwm_covers_snapshots",
        "hwm_minus_carried_in",
        {"2026-10-C8-BASE"},
    ),
    (
        "update license_days set days = 32 where account_id = 'L1'",
        "license_days_bounds",
        "days_left_in_month",
        {"2026-10-L1-LICENSE"},
    ),
    (
        "update prepaid_balances set closing_balance = closing_balance + 1 where account_id = 'P1'",
        "prepaid_conservation",
        "opening_plus_credits_minus_drawdown_minus_closing",
        {"2026-10-P1-PREPAID"},
    ),
    (
        "update int_prepaid_monthly set opening_balance = 7 "
        "where account_id = 'P2' and period = '2026-10'",
        "prepaid_continuity",
        "opening_minus_previous_closing",
        {"2026-10-P2-PREPAID"},
    ),
    (
        "update int_accounts set payment_method = 'cheque' where account_id = 'B12'",
        "accounts_values",
        "payment_method",
        {"2026-10-B12-BASE"},
    ),
    (
        "update raw_usage_snapshots_rows set quantity_count = -1 "
        "where account_id = 'B13' and quantity_count = 1",
        "usage_snapshots_values",
        "quantity",
        {"2026-10-B13-BASE"},
    ),
    (
        "update int_license_events set occurred_at = null where account_id = 'L2'",
        "license_events_values",
        "occurred_at_parsed",
        {"2026-10-L2-LICENSE"},
    ),
    (
        "delete from int_license_prices where product = 'scan'",
        "license_prices_in_use",
        "has_price",
        {"2026-10-L3-LICENSE"},
    ),
    (
        "insert into int_billed_invoices select * from int_billed_invoices",
        "int_billed_invoices_key_unique",
        "copies",
        {"2026-10-B16-BASE"},
    ),
]
# Knock-on failures the tampers above cause too (same accounts, so the same invoices).
KNOCK_ON = {
    ("invoice_totals", "total_minus_lines_hundredths"),  # B2's extra line, J1's unrounded line
    ("invoices_expected", "actual_minus_expected_total_hundredths"),  # B1, B7, C8, L1
    ("hwm_covers_snapshots", "hwm_minus_highest_seen"),  # B7, C8
}


@pytest.fixture(scope="module")
def tampered(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    copy = tmp_path_factory.mktemp("tampered") / "close.duckdb"
    shutil.copy(built_db, copy)
    con = duckdb.connect(str(copy))
    con.execute("set search_path = 'build,main'")
    for sql in dict.fromkeys(t[0] for t in TAMPERS):
        con.execute(sql)
    before = invoices(con)
    result = validate_close(con, PERIOD, copy.parent / "report")
    return con, result, before


@pytest.mark.parametrize(
    ("sql", "check", "column", "held"), TAMPERS, ids=[f"{t[1]}.{t[2]}" for t in TAMPERS]
)
def test_each_broken_rule_fails_its_expectation_and_holds_the_invoice(
    tampered: tuple, sql: str, check: str, column: str, held: set[str]
) -> None:
    con, result, _ = tampered
    (failure,) = [c for c in result.failed if (c.check, c.column) == (check, column)]
    assert failure.unexpected_count >= 1 and failure.examples
    assert held <= set(failure.attributed_invoices)
    assert failure.action == "held"
    now = invoices(con)
    for number in held:
        assert now[number]["status"] == "held"
        assert f"validation: {check}" in now[number]["hold_reason"]


def test_tampering_fails_only_the_expected_checks_and_holds_only_those_invoices(
    tampered: tuple,
) -> None:
    con, result, before = tampered
    failed = {(c.check, c.column) for c in result.failed}
    assert failed == {(t[1], t[2]) for t in TAMPERS} | KNOCK_ON
    expected_held = set().union(*(t[3] for t in TAMPERS))
    assert set(result.held_invoices) == expected_held
    assert not result.run_failed
    still_issued = {n for n, r in invoices(con).items() if r["status"] == "issued"}
    assert still_issued == set(before) - expected_held
    stored = rows(con, "select * from build.validation_results where status = 'failed'")
    assert {(r["check_name"], r["column_name"]) for r in stored} == failed
    assert "invoices held by validation" in result.report_path.read_text()


def test_holding_twice_adds_the_reason_once(tampered: tuple) -> None:
    con, _, _ = tampered
    validate_close(con, PERIOD, None)
    reason = invoices(con)["2026-10-B1-BASE"]["hold_reason"]
    assert reason.count("validation: invoice_totals") == 1


@pytest.mark.parametrize(
    ("sql", "check", "column"),
    [
        # a snapshot of an account nobody knows: there is no invoice to hold
        (
            "insert into raw_usage_snapshots_rows by name select 'GHOST' as account_id, "
            "timestamp '2026-10-02' as observed_at_utc, 'users' as metric, "
            "3 as quantity_count",
            "usage_snapshots_values",
            "known_account",
        ),
        # payments name no account: a duplicate payment key cannot be pinned on an invoice
        (
            "insert into int_payments select * from int_payments",
            "int_payments_key_unique",
            "copies",
        ),
        # A2's only invoice is gone: a missing invoice cannot be held
        (
            "delete from invoices where account_id = 'A2'",
            "invoices_expected",
            "actual_minus_expected_count",
        ),
        # a rejected row without a reason breaks 'nothing lost' for no invoice
        (
            # int_input_rows is a view of the checked models: tamper there
            "update int_accounts_checked set reject_reason = 'x' where line_number = 2",
            "checked_rows_fates",
            "reason_iff_rejected",
        ),
    ],
    ids=["unknown-account", "duplicate-payment", "missing-invoice", "reason-on-accepted-row"],
)
def test_a_failure_with_no_invoice_to_hold_fails_the_run(
    con: duckdb.DuckDBPyConnection, sql: str, check: str, column: str
) -> None:
    con.execute(sql)
    result = validate_close(con, PERIOD, None)
    assert result.run_failed
    (failure,) = [c for c in result.failed if (c.check, c.column) == (check, column)]
    assert failure.action == "run_failed"
    assert "cannot be pinned on an invoice" in result.one_line()
    assert {(c.check, c.column) for c in result.failed} == {(check, column)}


def test_a_missing_table_skips_its_suite_and_says_so(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con.execute("drop table build.license_days")
    con.execute("drop table build.int_prepaid_monthly")
    result = validate_close(con, PERIOD, tmp_path)
    skipped = {c.check for c in result.skipped}
    assert skipped == {"license_days_bounds", "prepaid_continuity"}
    assert all("not in this build" in c.details for c in result.skipped)
    assert not result.failed and not result.run_failed
    stored = rows(
        con,
        "select distinct check_name from build.validation_results "
        "where status = 'skipped' and success is null",
    )
    assert {r["check_name"] for r in stored} == skipped
    assert "skipped" in (tmp_path / "validation.html").read_text()


def test_external_checks_are_recorded_with_the_rest(con: duckdb.DuckDBPyConnection) -> None:
    record_external_check(con, PERIOD, "workbook_currency_totals", False, "USD off by 0.01")
    record_external_check(con, PERIOD, "workbook_currency_totals", True, schema="main")
    (stored,) = rows(con, "select * from build.validation_results")
    assert (stored["suite"], stored["status"], stored["details"]) == (
        "external",
        "failed",
        "USD off by 0.01",
    )
    assert rows(con, "select status from main.validation_results") == [{"status": "passed"}]


def test_result_type_is_what_the_pipeline_reads() -> None:
    fields = ValidationResult.__dataclass_fields__
    assert list(fields) == [
        "period",
        "checks",
        "failed",
        "held_invoices",
        "run_failed",
        "report_path",
    ]


def test_a_check_counted_from_its_grain_table_has_one_row_per_row_of_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # A check may count the rows it checks from the table its frame has one row per row
    # of (saving a second run of a heavy frame): that claim must hold.
    by_table = [c for c in (*INPUT_CHECKS, *OUTPUT_CHECKS) if c.grain not in ("frame", "failures")]
    assert by_table  # hwm_covers_snapshots counts from build.hwm_usage
    for check in by_table:
        (framed,) = con.execute(f"select count(*) from ({check.sql})").fetchone()
        (table,) = con.execute(f"select count(*) from {check.grain}").fetchone()
        assert framed == table > 0, check.name
