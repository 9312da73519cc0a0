"""Receivables aging (contract §3.1): every open billed invoice of the closed period or
earlier, aged as of the as-of date, on known answers worked out by hand.

Every case closes 2026-10 as of 2026-11-20. Account A1 is hwm, C = 0, 10.00 USD per user
with no snapshots (nothing computed; aging reads what the billing system billed).
Due dates (§2.4, the 3rd of the next month + 30 days): 2026-08 -> 2026-10-03,
2026-09 -> 2026-11-02, 2026-10 -> 2026-12-03.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.exports import account, build, rows, write_exports

PERIOD = "2026-10"
AS_OF = date(2026, 11, 20)


def billed(number: str, period: str, amount: str, currency: str = "USD") -> dict[str, object]:
    return {
        "invoice_number": number,
        "account_id": "A1",
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


def aging(tmp_path: Path, as_of: date = AS_OF, **tables: list) -> dict[str, dict]:
    tables.setdefault("accounts", [account("A1")])
    con = build(write_exports(tmp_path, **tables), PERIOD, as_of)
    return {r["invoice_number"]: r for r in rows(con, "select * from ar_aging")}


def test_open_overpaid_paid_and_later_invoices(tmp_path: Path) -> None:
    result = aging(
        tmp_path,
        billed_invoices=[
            billed("AUG", "2026-08", "100.00"),
            billed("SEP-OVERPAID", "2026-09", "30.00"),
            billed("SEP-PAID", "2026-09", "20.00"),
            billed("NOV", "2026-11", "55.00"),  # a later period: not this close's receivable
        ],
        payments=[
            payment("P1", "AUG", "40.00", "2026-09-10T08:00:00Z"),
            payment("P2", "AUG", "10.00", "2026-11-21T00:00:00Z"),  # after as-of: ignored
            payment("P3", "SEP-OVERPAID", "35.00", "2026-10-15T00:00:00Z"),
            payment("P4", "SEP-PAID", "20.00", "2026-11-20T23:59:59Z"),  # on the as-of day
        ],
    )
    assert set(result) == {"AUG", "SEP-OVERPAID"}  # SEP-PAID is settled, NOV is later

    aug = result["AUG"]
    # 100.00 - 40.00 = 60.00 (the 10.00 of 2026-11-21 is after the as-of date)
    assert (aug["billed_amount"], aug["paid_amount"], aug["outstanding"]) == (
        Decimal("100.00"),
        Decimal("40.00"),
        Decimal("60.00"),
    )
    # due 2026-09-03 + 30 = 2026-10-03; to 2026-11-20: 28 (Oct) + 20 (Nov) = 48 days
    assert aug["due_date"] == date(2026, 10, 3)
    assert (aug["days_overdue"], aug["aging_bucket"]) == (48, "31-60")
    assert (aug["period"], aug["invoice_period"], aug["account_id"], aug["currency"]) == (
        PERIOD,
        "2026-08",
        "A1",
        "USD",
    )

    overpaid = result["SEP-OVERPAID"]
    # 30.00 - 35.00 = -5.00: overpaid -> credit, 0 days, though past its due 2026-11-02
    assert overpaid["outstanding"] == Decimal("-5.00")
    assert (overpaid["days_overdue"], overpaid["aging_bucket"]) == (0, "credit")


def test_buckets_at_their_edges(tmp_path: Path) -> None:
    # Each unpaid; days past due as of 2026-11-20.
    result = aging(
        tmp_path,
        billed_invoices=[
            billed("OCT", "2026-10", "10.00"),  # due 2026-12-03: not yet due -> current, 0
            billed("SEP", "2026-09", "10.00"),  # due 2026-11-02: 18 days -> 1-30
            billed("JUL", "2026-07", "10.00"),  # due 2026-09-02: 28 + 31 + 20 = 79 -> 61-90
            billed("JUN", "2026-06", "10.00"),  # due 2026-08-02: 29 + 30 + 31 + 20 = 110 -> 90+
        ],
        payments=[],
    )
    assert {n: (r["days_overdue"], r["aging_bucket"]) for n, r in result.items()} == {
        "OCT": (0, "current"),
        "SEP": (18, "1-30"),
        "JUL": (79, "61-90"),
        "JUN": (110, "90+"),
    }
    # 90 vs 91 days for JUL (due 2026-09-02): to 2026-12-01 is 28 (Sep) + 31 (Oct) + 30 (Nov)
    # + 1 = 90 days -> 61-90; to 2026-12-02, 91 days -> 90+
    edge = aging(
        tmp_path / "edge90",
        as_of=date(2026, 12, 1),
        billed_invoices=[billed("JUL", "2026-07", "10.00")],
        payments=[],
    )
    assert (edge["JUL"]["days_overdue"], edge["JUL"]["aging_bucket"]) == (90, "61-90")
    edge = aging(
        tmp_path / "edge91",
        as_of=date(2026, 12, 2),
        billed_invoices=[billed("JUL", "2026-07", "10.00")],
        payments=[],
    )
    assert (edge["JUL"]["days_overdue"], edge["JUL"]["aging_bucket"]) == (91, "90+")


def test_amounts_round_to_the_billed_currency(tmp_path: Path) -> None:
    result = aging(
        tmp_path,
        billed_invoices=[
            billed("JPY", "2026-09", "1234.5", currency="JPY"),  # half-up to whole yen: 1235
            billed("USD", "2026-09", "10.005"),  # 10.01
        ],
        payments=[
            payment("P1", "JPY", "1000.4", "2026-10-01T00:00:00Z"),  # 1000 yen
            payment("P2", "USD", "0.0025", "2026-10-01T00:00:00Z"),
            payment("P3", "USD", "0.0025", "2026-10-02T00:00:00Z"),  # 0.005 summed -> 0.01
        ],
    )
    # 1235 - 1000 = 235 yen; 10.01 - 0.01 = 10.00
    assert result["JPY"]["outstanding"] == Decimal("235.00")
    assert result["USD"]["outstanding"] == Decimal("10.00")


def test_no_rows_unless_both_files_are_given(tmp_path: Path) -> None:
    open_invoice = [billed("AUG", "2026-08", "100.00")]
    assert aging(tmp_path / "billed_only", billed_invoices=open_invoice) == {}
    paid = [payment("P1", "AUG", "40.00", "2026-09-10T08:00:00Z")]
    assert aging(tmp_path / "payments_only", payments=paid) == {}
    # a payments file with only its header is given: nothing paid, all 100.00 open
    both = aging(tmp_path / "both", billed_invoices=open_invoice, payments=[])
    assert both["AUG"]["outstanding"] == Decimal("100.00")
