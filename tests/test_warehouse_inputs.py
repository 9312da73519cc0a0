"""The warehouse keeps the accepted input rows each close saw (contract §5): accounts,
billed_invoices and payments, typed, with the close's period, so every figure can be
explained from the warehouse alone; invoice_lines carry what each line recomputes from."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from tests.exports import account, build, rows, write_exports


def test_accepted_rows_are_kept_typed_with_the_close_period(tmp_path: Path) -> None:
    folder = write_exports(
        tmp_path,
        accounts=[
            account("A1", account_name="Acme, Inc.", contracted_quantity="", autopay_limit=""),
            account("A2", billing_model="prepaid", metric="", currency="EUR"),
            account("BAD", billing_model="monthly"),  # rejected: not in warehouse.accounts
        ],
        billed_invoices=[
            {
                "invoice_number": "2026-09-A1-BASE",
                "account_id": "A1",
                "period": "2026-09",
                "currency": "USD",
                "amount": "12.3456",
            },
            {  # rejected: amount is not a number
                "invoice_number": "X",
                "account_id": "A1",
                "period": "2026-09",
                "currency": "USD",
                "amount": "ten",
            },
        ],
        payments=[
            {
                "payment_id": "P1",
                "invoice_number": "2026-09-A1-BASE",
                "amount": "12.35",
                "paid_at": "2026-10-05T10:00:00+02:00",
            },
        ],
    )
    con = build(folder, "2026-10", date(2026, 11, 20))
    accounts = {r["account_id"]: r for r in rows(con, "select * from accounts")}
    assert set(accounts) == {"A1", "A2"}
    a1 = accounts["A1"]
    # §1 defaults applied: blank contracted_quantity = 0, autopay_limit = 4000.00
    assert (a1["period"], a1["account_name"], a1["contracted_quantity"]) == (
        "2026-10",
        "Acme, Inc.",
        0,
    )
    assert (a1["autopay_limit"], a1["unit_price"], a1["line_number"]) == (
        Decimal("4000"),
        Decimal("10"),
        2,
    )
    assert (accounts["A2"]["metric"], accounts["A2"]["currency"]) == ("devices", "EUR")

    billed = rows(con, "select * from billed_invoices")
    assert billed == [
        {
            "period": "2026-10",
            "invoice_number": "2026-09-A1-BASE",
            "account_id": "A1",
            "invoice_period": "2026-09",
            "currency": "USD",
            "amount": Decimal("12.3456"),  # as exported; aging rounds it
            "line_number": 2,
        }
    ]
    payments = rows(con, "select * from payments")
    # 10:00 at +02:00 is 08:00 UTC
    assert payments == [
        {
            "period": "2026-10",
            "payment_id": "P1",
            "invoice_number": "2026-09-A1-BASE",
            "amount": Decimal("12.35"),
            "paid_at": datetime(2026, 10, 5, 8, 0),
            "line_number": 2,
        }
    ]


def test_absent_optional_files_give_empty_tables(tmp_path: Path) -> None:
    con = build(write_exports(tmp_path, accounts=[account("A1")]), "2026-10")
    assert rows(con, "select count(*) as n from billed_invoices") == [{"n": 0}]
    assert rows(con, "select count(*) as n from payments") == [{"n": 0}]


def test_every_line_recomputes_from_its_own_row(tmp_path: Path) -> None:
    folder = write_exports(
        tmp_path,
        accounts=[account("H1", contracted_quantity="2"), account("L1", "license_day")],
        usage_snapshots=[
            {"account_id": "H1", "observed_at": "2026-10-05", "metric": "users", "quantity": "3"}
        ],
        license_prices=[{"product": "backup", "currency": "USD", "unit_price": "4.95"}],
        license_events=[
            {
                "event_id": "E1",
                "license_id": "L-1",
                "account_id": "L1",
                "product": "backup",
                "event": "issued",
                "occurred_at": "2026-10-10T12:00:00Z",
            }
        ],
    )
    con = build(folder, "2026-10")
    got = {
        r["invoice_number"]: r
        for r in rows(con, "select * from invoice_lines order by invoice_number, line_no")
    }
    license_line = got["2026-10-L1-LICENSE"]
    # Oct 10..31 = 22 days; 22 x 4.95 / 31 = 3.5129 -> 3.51
    assert (license_line["product"], license_line["days_in_month"]) == ("backup", 31)
    assert (license_line["quantity"], license_line["amount"]) == (22, Decimal("3.51"))
    # hwm lines: 2 x 10.00 = 20.00 base, (3 - 2) x 10.00 = 10.00 overage; nothing prorated
    for number, amount in (("2026-10-H1-BASE", "20.00"), ("2026-10-H1-OVERAGE", "10.00")):
        line = got[number]
        assert (line["product"], line["days_in_month"]) == (None, None)
        assert line["quantity"] * line["unit_price"] == Decimal(amount) == line["amount"]
