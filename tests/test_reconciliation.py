"""Reconciliation (contract §3): computed invoices against the billing system's export and
the payments, one small hand-built case per rule.

Every case closes 2026-10: invoice date 2026-11-03, due 2026-12-03 (§2.4). Account A1 is
hwm with C = 0 at 10.00 USD and 5 users: one BASE invoice of 5 x 10.00 = 50.00.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.exports import account, build, rows, write_exports

PERIOD = "2026-10"
DUE = date(2026, 12, 3)
A1 = "2026-10-A1-BASE"


def snapshot(account_id: str, quantity: int, observed_at: str = "2026-10-05") -> dict[str, object]:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": "users",
        "quantity": str(quantity),
    }


def billed(
    number: str, amount: str, currency: str = "USD", account_id: str = "A1", period: str = PERIOD
) -> dict[str, object]:
    return {
        "invoice_number": number,
        "account_id": account_id,
        "period": period,
        "currency": currency,
        "amount": amount,
    }


def payment(payment_id: str, number: str, amount: str, paid_at: str) -> dict[str, object]:
    return {
        "payment_id": payment_id,
        "invoice_number": number,
        "amount": amount,
        "paid_at": paid_at,
    }


def reconcile(tmp_path: Path, as_of: date = date(2026, 12, 31), **tables: list) -> list[dict]:
    tables.setdefault("accounts", [account("A1")])
    tables.setdefault("usage_snapshots", [snapshot("A1", 5)])
    con = build(write_exports(tmp_path, **tables), PERIOD, as_of)
    return rows(con, "select * from reconciliation order by invoice_number, payment_id")


def by_number(result: list[dict]) -> dict[str, dict]:
    return {r["invoice_number"]: r for r in result}


def test_each_status_on_one_close(tmp_path: Path) -> None:
    result = reconcile(
        tmp_path,
        accounts=[account("A1"), account("A2"), account("A3"), account("A4")],
        usage_snapshots=[
            snapshot("A1", 5),
            snapshot("A2", 2),
            snapshot("A3", 3),
            snapshot("A4", 4),
        ],
        billed_invoices=[
            billed(A1, "50.00"),  # 5 x 10.00 = 50.00 -> matched
            billed("2026-10-A2-BASE", "19.00", account_id="A2"),  # 20.00 - 19.00 = 1.00
            billed("2026-10-A3-BASE", "30.00", "EUR", account_id="A3"),  # USD vs EUR
            # A4's 40.00 is not billed -> missing
            billed("2026-10-A1-OVERAGE", "7.50"),  # nothing computed -> unexpected
            billed("2026-09-A1-BASE", "50.00", period="2026-09"),  # another period: not here
        ],
        payments=[payment("P1", "NO-SUCH-INVOICE", "12.34", "2026-10-20T09:00:00Z")],
    )
    statuses = {r["invoice_number"]: r["status"] for r in result}
    assert statuses == {
        A1: "matched",
        "2026-10-A2-BASE": "amount_mismatch",
        "2026-10-A3-BASE": "currency_mismatch",
        "2026-10-A4-BASE": "missing_in_billing_system",
        "2026-10-A1-OVERAGE": "unexpected_in_billing_system",
        "NO-SUCH-INVOICE": "unapplied_payment",
    }
    rows_ = by_number(result)
    assert rows_["2026-10-A2-BASE"]["difference"] == pytest.approx(1)  # 20.00 - 19.00
    assert str(rows_[A1]["difference"]) == "0.00"
    assert rows_["2026-10-A3-BASE"]["difference"] is None  # no subtraction across currencies
    assert rows_["2026-10-A3-BASE"]["billed_currency"] == "EUR"
    assert rows_["2026-10-A4-BASE"]["billed_amount"] is None
    assert str(rows_["2026-10-A4-BASE"]["outstanding"]) == "40.00"  # computed total, unpaid
    unexpected = rows_["2026-10-A1-OVERAGE"]
    assert (unexpected["computed_amount"], str(unexpected["billed_amount"])) == (None, "7.50")
    assert unexpected["due_date"] == DUE  # the period's due date (§2.4)
    unapplied = rows_["NO-SUCH-INVOICE"]
    assert (unapplied["payment_id"], str(unapplied["paid_amount"])) == ("P1", "12.34")
    assert unapplied["currency"] is None and unapplied["outstanding"] is None


def test_held_invoices_are_reconciled_too(tmp_path: Path) -> None:
    result = reconcile(
        tmp_path,
        usage_snapshots=[snapshot("A1", 5), snapshot("A1", -1, "2026-10-06")],  # rejected
        billed_invoices=[billed(A1, "50.00")],
    )
    assert [(r["invoice_number"], r["status"], r["invoice_status"]) for r in result] == [
        (A1, "matched", "held")
    ]


def test_partial_payment_and_payments_after_as_of(tmp_path: Path) -> None:
    result = reconcile(
        tmp_path,
        as_of=date(2026, 12, 31),
        billed_invoices=[billed(A1, "50.00")],
        payments=[
            payment("P1", A1, "20.00", "2026-11-10"),
            payment("P2", A1, "5.00", "2026-12-31T23:59:59Z"),  # on the as-of date: counts
            payment("P3", A1, "25.00", "2027-01-01T00:00:00Z"),  # after as-of: ignored
            payment("P4", A1, "1.00", "2027-01-01T00:30:00+01:00"),  # 2026-12-31 23:30 UTC
        ],
    )
    (row,) = result
    # paid 20.00 + 5.00 + 1.00 = 26.00; outstanding 50.00 - 26.00 = 24.00; 28 days past due
    assert (str(row["paid_amount"]), str(row["outstanding"])) == ("26.00", "24.00")
    assert (row["days_overdue"], row["aging_bucket"]) == (28, "1-30")


def test_fully_paid_is_current_even_when_past_due(tmp_path: Path) -> None:
    result = reconcile(
        tmp_path,
        as_of=date(2027, 6, 1),
        billed_invoices=[billed(A1, "50.00")],
        payments=[
            payment("P1", A1, "30.00", "2026-11-10"),
            payment("P2", A1, "20.00", "2027-02-10"),
        ],
    )
    (row,) = result
    assert (str(row["outstanding"]), row["days_overdue"], row["aging_bucket"]) == (
        "0.00",
        0,
        "current",
    )


@pytest.mark.parametrize(
    ("days_past_due", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_aging_buckets(tmp_path: Path, days_past_due: int, bucket: str) -> None:
    result = reconcile(
        tmp_path,
        as_of=DUE + timedelta(days=days_past_due),
        billed_invoices=[billed(A1, "50.00")],
        payments=[],
    )
    (row,) = result
    assert row["days_overdue"] == max(days_past_due, 0)
    assert row["aging_bucket"] == bucket


def test_currency_mismatch_beats_amount_mismatch(tmp_path: Path) -> None:
    result = reconcile(tmp_path, billed_invoices=[billed(A1, "99.99", "EUR")])
    (row,) = result
    assert (row["status"], row["difference"]) == ("currency_mismatch", None)


@pytest.mark.parametrize(
    ("billed_amount", "status", "difference"),
    [
        ("1235", "matched", "0.00"),
        ("1234.5", "matched", "0.00"),  # 1234.5 -> 1235 (half-up, no decimals)
        ("1235.4999", "matched", "0.00"),  # -> 1235
        ("1234.4999", "amount_mismatch", "1.00"),  # -> 1234; 1235 - 1234 = 1
        ("1235.5", "amount_mismatch", "-1.00"),  # -> 1236
    ],
)
def test_jpy_amounts_compare_to_the_yen(
    tmp_path: Path, billed_amount: str, status: str, difference: str
) -> None:
    # 1 user x 1234.5 JPY = 1234.5 -> 1235 (half-up to 0 decimals)
    result = reconcile(
        tmp_path,
        accounts=[account("J1", currency="JPY", unit_price="1234.5")],
        usage_snapshots=[snapshot("J1", 1)],
        billed_invoices=[billed("2026-10-J1-BASE", billed_amount, "JPY", account_id="J1")],
    )
    (row,) = result
    assert (row["status"], str(row["difference"])) == (status, difference)
    assert str(row["computed_amount"]) == "1235.00"


def test_usd_amounts_compare_to_the_cent(tmp_path: Path) -> None:
    result = reconcile(tmp_path, billed_invoices=[billed(A1, "50.004")])  # -> 50.00
    assert [r["status"] for r in result] == ["matched"]


def test_unapplied_payments_only_in_the_period_of_paid_at(tmp_path: Path) -> None:
    result = reconcile(
        tmp_path,
        billed_invoices=[billed(A1, "50.00"), billed("2026-08-A1-BASE", "50.00", period="2026-08")],
        payments=[
            payment("P1", "GHOST-1", "1.00", "2026-10-31T23:59:59Z"),  # in October: listed
            payment("P2", "GHOST-2", "1.00", "2026-11-01T00:00:00Z"),  # November: not here
            payment("P3", "GHOST-3", "1.00", "2026-09-30T23:59:59Z"),  # September: not here
            payment("P4", "2026-08-A1-BASE", "50.00", "2026-10-02"),  # billed in August
            payment("P5", A1, "10.00", "2026-10-20"),  # this close's invoice
        ],
    )
    unapplied = [r["payment_id"] for r in result if r["status"] == "unapplied_payment"]
    assert unapplied == ["P1"]


def test_no_billed_invoices_file_gives_no_rows(tmp_path: Path) -> None:
    result = reconcile(tmp_path, payments=[payment("P1", "GHOST", "1.00", "2026-10-02")])
    assert result == []


def test_empty_billed_invoices_file_reports_everything_missing(tmp_path: Path) -> None:
    result = reconcile(tmp_path, billed_invoices=[])
    assert [(r["invoice_number"], r["status"]) for r in result] == [
        (A1, "missing_in_billing_system")
    ]


def test_no_payments_file_leaves_paid_and_aging_empty(tmp_path: Path) -> None:
    result = reconcile(tmp_path, billed_invoices=[billed(A1, "50.00")])
    (row,) = result
    assert row["status"] == "matched"
    assert [row[c] for c in ("paid_amount", "outstanding", "days_overdue", "aging_bucket")] == [
        None,
        None,
        None,
        None,
    ]


def test_column_types(tmp_path: Path) -> None:
    con = build(write_exports(tmp_path, accounts=[account("A1")], billed_invoices=[]), PERIOD)
    types = dict(
        con.execute("select column_name, column_type from (describe reconciliation)").fetchall()
    )
    for money in ("computed_amount", "billed_amount", "difference", "paid_amount", "outstanding"):
        assert types[money] == "DECIMAL(18,2)"
    assert types["days_overdue"] == "INTEGER"
    assert types["due_date"] == "DATE"
