"""Prepaid balance drawdown (contract §2.3, §4) on known answers worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.exports import account, build, rows, write_exports


def devices(account_id: str, observed_at: str, quantity: int) -> dict:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": "devices",
        "quantity": quantity,
    }


def txn(
    txn_id: str,
    occurred_at: str,
    kind: str,
    amount: str = "",
    device_months: str = "",
    account_id: str = "P1",
) -> dict:
    return {
        "txn_id": txn_id,
        "account_id": account_id,
        "occurred_at": occurred_at,
        "kind": kind,
        "amount": amount,
        "device_months": device_months,
    }


def balance(con, account_id: str = "P1") -> dict:
    (row,) = rows(con, "select * from prepaid_balances where account_id = ?", [account_id])
    return row


def statement(row: dict) -> tuple:
    return tuple(
        row[c]
        for c in (
            "opening_balance",
            "credits",
            "charge",
            "drawdown",
            "shortfall",
            "closing_balance",
        )
    )


def invoices(con) -> dict[str, dict]:
    return {r["invoice_number"]: r for r in rows(con, "select * from invoices")}


def D(text: str) -> Decimal:  # noqa: N802 - reads like the amounts in the comments
    return Decimal(text)


@pytest.mark.parametrize(
    ("unit_price", "prepay"),
    [
        # Jamf: devices x months x $2.00: 10 x 12 x 2.00 = 240.00; x 24 = 480.00; x 36 = 720.00
        ("2.00", (D("240.00"), D("480.00"), D("720.00"))),
        # and at $4.00: 10 x 12 x 4.00 = 480.00; x 24 = 960.00; x 36 = 1440.00
        ("4.00", (D("480.00"), D("960.00"), D("1440.00"))),
    ],
)
def test_jamf_prepay_arithmetic(tmp_path, unit_price, prepay):
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price=unit_price)],
        usage_snapshots=[devices("P1", "2026-10-02T00:00:00Z", 10)],
    )
    row = balance(build(folder, "2026-10"))
    assert row["devices"] == 10
    assert (row["prepay_12_months"], row["prepay_24_months"], row["prepay_36_months"]) == prepay


# Three months at 4.00 per device:
#   Aug: purchase 150.00; 25 devices -> charge 100.00; 150 - 100 -> closing 50.00
#   Sep: 30 devices on Sep 15 -> charge 120.00; balance 50.00 applied, shortfall 70.00
#   Oct: reload 300.00; HWM 30 (carried in) -> charge 120.00; closing 180.00,
#        runway floor(180 / 120) = 1
#   Nov: no data, 20 devices carried in -> charge 80.00; closing 100.00, runway 1
#   Dec: no data -> charge 80.00; closing 20.00, runway floor(20 / 80) = 0
THREE_MONTHS = {
    "accounts": [account("P1", "prepaid", unit_price="4.00")],
    "usage_snapshots": [
        devices("P1", "2026-08-01T00:00:00Z", 25),
        devices("P1", "2026-09-15T00:00:00Z", 30),
        devices("P1", "2026-10-20T00:00:00Z", 20),
    ],
    "balance_transactions": [
        txn("T1", "2026-08-02T00:00:00Z", "purchase", "150.00"),
        txn("T2", "2026-10-03T00:00:00Z", "reload", "300.00"),
    ],
}
THREE_MONTHS_EXPECTED = {
    "2026-08": ((D("0"), D("150"), D("100"), D("100"), D("0"), D("50")), 0),
    "2026-09": ((D("50"), D("0"), D("120"), D("50"), D("70"), D("0")), 0),
    "2026-10": ((D("0"), D("300"), D("120"), D("120"), D("0"), D("180")), 1),
    "2026-11": ((D("180"), D("0"), D("80"), D("80"), D("0"), D("100")), 1),
    "2026-12": ((D("100"), D("0"), D("80"), D("80"), D("0"), D("20")), 0),
}


@pytest.mark.parametrize("period", THREE_MONTHS_EXPECTED)
def test_replay_with_a_shortfall_and_a_reload_after_it(tmp_path, period):
    con = build(write_exports(tmp_path, **THREE_MONTHS), period)
    row = balance(con)
    expected_statement, runway = THREE_MONTHS_EXPECTED[period]
    assert statement(row) == expected_statement
    assert row["runway_months"] == runway
    found = invoices(con)
    if period == "2026-09":
        invoice = found["2026-09-P1-PREPAID"]
        assert (invoice["invoice_type"], invoice["total"], invoice["status"]) == (
            "prepaid_shortfall",
            D("70.00"),
            "issued",
        )
        (line,) = rows(con, "select * from invoice_lines")
        assert line["description"] == (
            "September 2026: 30 devices x 4.00 = 120.00; balance applied 50.00; shortfall 70.00"
        )
        assert (line["quantity"], line["unit_price"], line["amount"]) == (1, D("70"), D("70.00"))
    else:
        assert found == {}


def test_closing_periods_in_any_order_gives_the_same_balances(tmp_path):
    folder = write_exports(tmp_path / "exports", **THREE_MONTHS)
    results = []
    for order in (["2026-08", "2026-09", "2026-10"], ["2026-10", "2026-08", "2026-09"]):
        database = str(tmp_path / f"warehouse-{order[0]}.duckdb")
        by_period = {}
        for period in order:
            con = build(folder, period, database=database)
            (row,) = rows(con, "select * from prepaid_balances")
            by_period[period] = row
            con.close()
        results.append(by_period)
    assert results[0] == results[1]
    assert statement(results[0]["2026-10"]) == THREE_MONTHS_EXPECTED["2026-10"][0]


def test_license_pack_valued_and_rounded(tmp_path):
    # unit_price 2.125: a pack of 7 device_months = 14.875 -> 14.88 (half-up);
    # 3 devices -> charge 6.375 -> 6.38; closing 14.88 - 6.38 = 8.50; runway floor(8.50 / 6.38) = 1
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price="2.125")],
        usage_snapshots=[devices("P1", "2026-10-01T00:00:00Z", 3)],
        balance_transactions=[txn("T1", "2026-10-05T00:00:00Z", "license_pack", device_months="7")],
    )
    row = balance(build(folder, "2026-10"))
    assert statement(row) == (D("0"), D("14.88"), D("6.38"), D("6.38"), D("0"), D("8.50"))
    assert row["runway_months"] == 1


def test_refund_that_would_go_negative_is_rejected_and_holds(tmp_path):
    # 6.00 per device, 25 devices -> charge 150.00 a month.
    #   line 2  Oct 2 purchase 100.00      balance 100.00
    #   line 3  Oct 5 refund   150.00      would leave -50.00: rejected, balance stays 100.00
    #   line 4  Oct 6 refund    30.00      balance 70.00
    #   line 5  Oct 7 reload    50.00      balance 120.00 (the refund was checked at its time)
    # credits 100 - 30 + 50 = 120.00; drawdown 120.00, shortfall 30.00 -> invoice held
    # November: 150.00 charge, nothing left -> shortfall 150.00, held too (prepaid accounts
    # are held by rejected rows dated before the period)
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price="6.00")],
        usage_snapshots=[devices("P1", "2026-10-01T00:00:00Z", 25)],
        balance_transactions=[
            txn("T1", "2026-10-02T00:00:00Z", "purchase", "100.00"),
            txn("T2", "2026-10-05T00:00:00Z", "refund", "150.00"),
            txn("T3", "2026-10-06T00:00:00Z", "refund", "30.00"),
            txn("T4", "2026-10-07T00:00:00Z", "reload", "50.00"),
        ],
    )
    con = build(folder, "2026-10")
    assert statement(balance(con)) == (D("0"), D("120"), D("150"), D("120"), D("30"), D("0"))
    (rejected,) = rows(con, "select * from rejected_rows")
    assert (rejected["file"], rejected["line_number"], rejected["account_id"]) == (
        "balance_transactions.csv",
        3,
        "P1",
    )
    assert rejected["reason"] == (
        "refund of 150.00 USD on 2026-10-05 00:00 UTC would leave the balance below zero "
        "(balance then 100.00)"
    )
    assert rejected["raw"] == "T2,P1,2026-10-05T00:00:00Z,refund,150.00,,"
    (counts,) = rows(con, "select * from load_counts where file = 'balance_transactions.csv'")
    assert (counts["rows_read"], counts["accepted"], counts["rejected"]) == (4, 3, 1)
    invoice = invoices(con)["2026-10-P1-PREPAID"]
    assert (invoice["total"], invoice["status"]) == (D("30.00"), "held")
    assert "balance_transactions line 3" in invoice["hold_reason"]

    november = build(folder, "2026-11")
    invoice = invoices(november)["2026-11-P1-PREPAID"]
    assert (invoice["total"], invoice["status"]) == (D("150.00"), "held")


def test_negative_adjustment(tmp_path):
    # 4.00 per device, 10 devices -> charge 40.00
    #   purchase 100.00 -> 100.00; adjustment -40.00 -> 60.00 (accepted: only an adjustment
    #   may be negative); adjustment -70.00 would leave -10.00 -> rejected
    # credits 60.00, drawdown 40.00, closing 20.00
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price="4.00")],
        usage_snapshots=[devices("P1", "2026-10-01T00:00:00Z", 10)],
        balance_transactions=[
            txn("T1", "2026-10-02T00:00:00Z", "purchase", "100.00"),
            txn("T2", "2026-10-03T00:00:00Z", "adjustment", "-40.00"),
            txn("T3", "2026-10-04T00:00:00Z", "adjustment", "-70.00"),
        ],
    )
    con = build(folder, "2026-10")
    assert statement(balance(con)) == (D("0"), D("60"), D("40"), D("40"), D("0"), D("20"))
    fates = rows(
        con,
        "select line_number, row_status from int_balance_transactions_checked order by 1",
    )
    assert [f["row_status"] for f in fates] == ["accepted", "accepted", "rejected"]


def test_jpy_prepaid_account(tmp_path):
    # 500 JPY per device, 12 devices -> charge 6000; purchase 5000 -> shortfall 1000
    # prepay: 12 x 12 x 500 = 72000; x 24 = 144000; x 36 = 216000
    folder = write_exports(
        tmp_path,
        accounts=[account("PJ", "prepaid", unit_price="500", currency="JPY")],
        usage_snapshots=[devices("PJ", "2026-10-01T00:00:00Z", 12)],
        balance_transactions=[
            txn("T1", "2026-10-02T00:00:00Z", "purchase", "5000", account_id="PJ")
        ],
    )
    con = build(folder, "2026-10")
    row = balance(con, "PJ")
    assert statement(row) == (D("0"), D("5000"), D("6000"), D("5000"), D("1000"), D("0"))
    assert (row["prepay_12_months"], row["prepay_24_months"], row["prepay_36_months"]) == (
        D("72000"),
        D("144000"),
        D("216000"),
    )
    assert row["currency"] == "JPY"
    invoice = invoices(con)["2026-10-PJ-PREPAID"]
    assert (invoice["currency"], invoice["total"]) == ("JPY", D("1000.00"))
    (line,) = rows(con, "select * from invoice_lines")
    assert line["description"] == (
        "October 2026: 12 devices x 500 = 6000; balance applied 5000; shortfall 1000"
    )


def test_output_types(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price="4.00")],
        usage_snapshots=[devices("P1", "2026-10-01T00:00:00Z", 10)],
    )
    con = build(folder, "2026-10")
    types = {r["column_name"]: r["column_type"] for r in rows(con, "describe prepaid_balances")}
    for column in (
        "opening_balance",
        "credits",
        "charge",
        "drawdown",
        "shortfall",
        "closing_balance",
        "prepay_12_months",
        "prepay_24_months",
        "prepay_36_months",
    ):
        assert types[column] == "DECIMAL(18,2)", column
    assert types["runway_months"] == "BIGINT"
    # no balance and a 40.00 charge: the whole charge is a shortfall, runway 0
    row = balance(con)
    assert (row["shortfall"], row["runway_months"]) == (D("40.00"), 0)


def test_no_devices_no_charge_no_runway(tmp_path):
    # a balance of 25.00 and no devices: charge 0, runway undefined (null), nothing invoiced
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", unit_price="4.00")],
        balance_transactions=[txn("T1", "2026-10-02T00:00:00Z", "redeem_code", "25.00")],
    )
    con = build(folder, "2026-10")
    row = balance(con)
    assert statement(row) == (D("0"), D("25"), D("0"), D("0"), D("0"), D("25"))
    assert row["runway_months"] is None
    assert invoices(con) == {}


@pytest.mark.parametrize(
    ("currency", "amount", "accepted"),
    [
        ("USD", "10.125", False),
        ("USD", "10.12", True),
        ("JPY", "100.5", False),
        ("JPY", "100", True),
    ],
)
def test_an_amount_finer_than_the_currency_is_rejected_not_rounded(
    tmp_path, currency, amount, accepted
):
    folder = write_exports(
        tmp_path,
        accounts=[account("P1", "prepaid", currency=currency, unit_price="2")],
        balance_transactions=[txn("T1", "2026-10-02T00:00:00Z", "purchase", amount)],
    )
    con = build(folder, "2026-10")
    rejected = rows(con, "select reason from rejected_rows")
    if accepted:
        assert rejected == []
        assert balance(con)["credits"] == Decimal(amount)
    else:
        assert rejected == [
            {"reason": f"amount '{amount}' has more decimals than {currency} allows"}
        ]
        assert balance(con)["credits"] == Decimal("0")
