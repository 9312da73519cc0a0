"""Analyst views over the warehouse's history (monthly_revenue, overage_trend, dso), on
known numbers worked out by hand from two real closes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from closebook.loading import load_exports
from closebook.models import ClosePeriod, build_models
from closebook.publish import publish_period
from tests.exports import account, rows, write_exports


def snap(account_id: str, observed_at: str, quantity: str) -> dict[str, object]:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": "users",
        "quantity": quantity,
    }


def close(folder: Path, warehouse: Path, *periods: str, as_of: date = date(2026, 11, 20)):
    con = duckdb.connect(str(warehouse))
    for period in periods:
        load_exports(con, folder)
        build_models(con, ClosePeriod.parse(period), as_of)
        publish_period(con, period)
    return con


def history(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Closes of 2026-09 and 2026-10:
    A  hwm C=2 at 10.00 USD: Sep HWM 5 (base 20.00, overage 3 x 10 = 30.00);
       Oct carried in 2, peak 4 (base 20.00, overage 2 x 10 = 20.00)
    B  hwm C=1 at 100 JPY: Sep no usage, HWM 0 (base 100); Oct 3 (base 100, overage 200)
    C  hwm C=0 at 10.00 USD: 1 user both months (base 10.00), no overage trend (no contract)
    H  hwm C=0 at 10.00 USD: 2 users (base 20.00); in Oct a rejected snapshot holds it
    """
    folder = write_exports(
        tmp_path / "exports",
        accounts=[
            account("A", contracted_quantity="2"),
            account("B", contracted_quantity="1", currency="JPY", unit_price="100"),
            account("C"),
            account("H"),
        ],
        usage_snapshots=[
            snap("A", "2026-09-05", "5"),
            snap("A", "2026-09-20", "2"),
            snap("A", "2026-10-05", "4"),
            snap("B", "2026-10-10", "3"),
            snap("C", "2026-09-01", "1"),
            snap("H", "2026-09-01", "2"),
            snap("H", "2026-10-07", "x"),  # rejected, dated in October: holds H's October
        ],
    )
    return close(folder, tmp_path / "wh.duckdb", "2026-09", "2026-10")


def test_monthly_revenue_counts_issued_invoices_per_currency_and_type(tmp_path: Path) -> None:
    con = history(tmp_path)
    got = {
        (r["period"], r["currency"], r["invoice_type"]): (r["invoices"], r["total"])
        for r in rows(con, "select * from main.monthly_revenue")
    }
    assert got == {
        # Sep USD base: A 20.00 + C 10.00 + H 20.00 = 50.00
        ("2026-09", "USD", "base"): (3, Decimal("50.00")),
        ("2026-09", "USD", "overage"): (1, Decimal("30.00")),
        ("2026-09", "JPY", "base"): (1, Decimal("100.00")),
        # Oct USD base: A 20.00 + C 10.00 = 30.00 (H's 20.00 is held, not revenue)
        ("2026-10", "USD", "base"): (2, Decimal("30.00")),
        ("2026-10", "USD", "overage"): (1, Decimal("20.00")),
        ("2026-10", "JPY", "base"): (1, Decimal("100.00")),
        ("2026-10", "JPY", "overage"): (1, Decimal("200.00")),
    }


def test_overage_trend_compares_with_the_previous_closed_period(tmp_path: Path) -> None:
    con = history(tmp_path)
    got = rows(
        con,
        "select account_id, period, contracted, hwm, overage_quantity, overage_amount, "
        "previous_period, overage_quantity_change, overage_amount_change "
        "from main.overage_trend order by account_id, period",
    )
    assert got == [
        # A: Sep 5 - 2 = 3 -> 30.00; Oct 4 - 2 = 2 -> 20.00: change -1, -10.00
        {"account_id": "A", "period": "2026-09", "contracted": 2, "hwm": 5,
         "overage_quantity": 3, "overage_amount": Decimal("30.00"), "previous_period": None,
         "overage_quantity_change": None, "overage_amount_change": None},
        {"account_id": "A", "period": "2026-10", "contracted": 2, "hwm": 4,
         "overage_quantity": 2, "overage_amount": Decimal("20.00"),
         "previous_period": "2026-09", "overage_quantity_change": -1,
         "overage_amount_change": Decimal("-10.00")},
        # B: Sep HWM 0 -> no overage; Oct 3 - 1 = 2 x 100 = 200: change +2, +200
        {"account_id": "B", "period": "2026-09", "contracted": 1, "hwm": 0,
         "overage_quantity": 0, "overage_amount": Decimal("0.00"), "previous_period": None,
         "overage_quantity_change": None, "overage_amount_change": None},
        {"account_id": "B", "period": "2026-10", "contracted": 1, "hwm": 3,
         "overage_quantity": 2, "overage_amount": Decimal("200.00"),
         "previous_period": "2026-09", "overage_quantity_change": 2,
         "overage_amount_change": Decimal("200.00")},
    ]  # fmt: skip


def billed(number: str, account_id: str, period: str, currency: str, amount: str) -> dict:
    return {
        "invoice_number": number,
        "account_id": account_id,
        "period": period,
        "currency": currency,
        "amount": amount,
    }


def paid(payment_id: str, number: str, amount: str, paid_at: str) -> dict:
    return {
        "payment_id": payment_id,
        "invoice_number": number,
        "amount": amount,
        "paid_at": paid_at,
    }


def test_dso_is_receivables_over_the_period_billing_times_its_days(tmp_path: Path) -> None:
    folder = write_exports(
        tmp_path / "exports",
        accounts=[account("U"), account("E", currency="EUR"), account("G", currency="GBP")],
        billed_invoices=[
            billed("X1", "U", "2026-10", "USD", "600.00"),
            billed("X2", "U", "2026-10", "USD", "400.00"),
            billed("S1", "U", "2026-09", "USD", "300.00"),  # older, still open
            billed("S2", "U", "2026-09", "USD", "50.00"),  # overpaid: a credit
            billed("E1", "E", "2026-10", "EUR", "300.00"),
            billed("G1", "G", "2026-10", "GBP", "4.00"),
        ],
        payments=[
            paid("P1", "X1", "600.00", "2026-11-10T00:00:00Z"),
            paid("P2", "X2", "100.00", "2026-11-15T00:00:00Z"),
            paid("P3", "S2", "80.00", "2026-10-01T00:00:00Z"),
            paid("P4", "G1", "1.00", "2026-11-01T00:00:00Z"),
        ],
    )
    con = close(folder, tmp_path / "wh.duckdb", "2026-10")
    got = {r["currency"]: r for r in rows(con, "select * from main.dso")}
    # USD: receivables X2 300.00 + S1 300.00 = 600.00 (S2's -30.00 credit left out);
    # billed in October X1 600.00 + X2 400.00 = 1000.00; 600 / 1000 x 31 = 18.6 days
    usd = got["USD"]
    assert (usd["receivables"], usd["billed"], usd["days_in_period"], usd["dso"]) == (
        Decimal("600.00"),
        Decimal("1000.00"),
        31,
        Decimal("18.6"),
    )
    assert (usd["period"], usd["as_of"]) == ("2026-10", date(2026, 11, 20))
    # EUR: nothing paid: 300 / 300 x 31 = 31.0
    assert got["EUR"]["dso"] == Decimal("31.0")
    # GBP: 3.00 open of 4.00 billed: 3 / 4 x 31 = 23.25 -> 23.3 (half-up, not to even)
    assert got["GBP"]["dso"] == Decimal("23.3")
    assert set(got) == {"USD", "EUR", "GBP"}


def test_no_dso_for_a_close_without_payments(tmp_path: Path) -> None:
    folder = write_exports(
        tmp_path / "exports",
        accounts=[account("U")],
        billed_invoices=[billed("X1", "U", "2026-10", "USD", "600.00")],
    )
    con = close(folder, tmp_path / "wh.duckdb", "2026-10")
    # without payments nothing is known to be outstanding: no figure rather than 0 days
    assert rows(con, "select * from main.dso") == []
