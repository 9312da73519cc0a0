"""License-day billing (contract §2.2, §2.4, §4) on known answers worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.exports import account, build, rows, write_exports

BACKUP_USD = {"product": "backup", "currency": "USD", "unit_price": "4.95"}


def ev(
    event_id: str,
    license_id: str,
    event: str,
    occurred_at: str,
    account_id: str = "J1",
    product: str = "backup",
    site: str = "",
) -> dict:
    return {
        "event_id": event_id,
        "license_id": license_id,
        "account_id": account_id,
        "product": product,
        "event": event,
        "occurred_at": occurred_at,
        "site": site,
    }


def license_days(con) -> dict[str, int]:
    return {r["license_id"]: r["days"] for r in rows(con, "select * from license_days")}


def lines(con) -> list[dict]:
    return rows(con, "select * from int_invoice_lines_license_days order by account_id, line_no")


def invoices(con) -> dict[str, dict]:
    return {r["invoice_number"]: r for r in rows(con, "select * from invoices")}


@pytest.mark.parametrize(
    ("period", "issued_at", "days", "amount"),
    [
        # Feb 2026 has 28 days: Feb 10..28 = 19 days; 19 x 4.95 / 28 = 3.3589 -> 3.36
        ("2026-02", "2026-02-10T12:00:00Z", 19, Decimal("3.36")),
        # Feb 2028 (leap) has 29: Feb 10..29 = 20 days; 20 x 4.95 / 29 = 3.4138 -> 3.41
        ("2028-02", "2028-02-10T12:00:00Z", 20, Decimal("3.41")),
        # Sep has 30: Sep 10..30 = 21 days; 21 x 4.95 / 30 = 3.465 -> 3.47 (half-up)
        ("2026-09", "2026-09-10T12:00:00Z", 21, Decimal("3.47")),
        # Oct has 31: Oct 10..31 = 22 days; 22 x 4.95 / 31 = 3.5129 -> 3.51
        ("2026-10", "2026-10-10T12:00:00Z", 22, Decimal("3.51")),
    ],
)
def test_month_lengths(tmp_path, period, issued_at, days, amount):
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day")],
        license_prices=[BACKUP_USD],
        license_events=[ev("E1", "L1", "issued", issued_at)],
    )
    con = build(folder, period)
    assert license_days(con) == {"L1": days}
    (line,) = lines(con)
    assert (line["quantity"], line["unit_price"], line["amount"]) == (
        days,
        Decimal("4.95"),
        amount,
    )
    assert invoices(con)[f"{period}-J1-LICENSE"]["total"] == amount


@pytest.mark.parametrize(
    ("issued_at", "revoked_at", "days"),
    [
        # issued and revoked the same day: active at instants of Oct 5 only -> 1 day
        ("2026-10-05T09:00:00Z", "2026-10-05T17:00:00Z", 1),
        # zero-length interval [09:00, 09:00) is never active -> 0 days (no row, no invoice)
        ("2026-10-05T09:00:00Z", "2026-10-05T09:00:00Z", 0),
        # revoked exactly at midnight: Oct 5 and 6; Oct 7 starts at the revoke -> 2 days
        ("2026-10-05T09:00:00Z", "2026-10-07T00:00:00Z", 2),
        # two hours across midnight touch two days -> 2 days
        ("2026-10-05T23:00:00Z", "2026-10-06T01:00:00Z", 2),
        # never revoked, issued before the period: every day of October -> 31
        ("2026-09-15T08:00:00Z", None, 31),
        # revoked at the period's first instant: not active in October -> 0
        ("2026-09-15T08:00:00Z", "2026-10-01T00:00:00Z", 0),
        # revoked after the period: through Oct 31 -> 31
        ("2026-10-01T00:00:00Z", "2026-11-10T00:00:00Z", 31),
        # offsets convert to UTC: issued Oct 4 23:00 UTC, revoked Oct 5 10:00 UTC -> 2 days
        ("2026-10-05T01:00:00+02:00", "2026-10-05T10:00:00Z", 2),
    ],
)
def test_days_counted(tmp_path, issued_at, revoked_at, days):
    events = [ev("E1", "L1", "issued", issued_at)]
    if revoked_at:
        events.append(ev("E2", "L1", "revoked", revoked_at))
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day")],
        license_prices=[BACKUP_USD],
        license_events=events,
    )
    con = build(folder, "2026-10")
    assert rows(con, "select count(*) as n from rejected_rows") == [{"n": 0}]
    assert license_days(con) == ({"L1": days} if days else {})
    if days == 0:
        assert invoices(con) == {}


def test_transfer_counted_once_and_unassigned_license_billed(tmp_path):
    # L1: issued Oct 1 00:00, assigned, transferred to another site, revoked Oct 20 12:00
    #     -> Oct 1..20 = 20 days (the transfer keeps the license: not counted twice)
    # L2: issued Oct 11 10:00, never assigned to a site, open -> Oct 11..31 = 21 days
    # 41 license-days x 4.95 / 31 = 6.5468 -> 6.55
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day")],
        license_prices=[BACKUP_USD],
        license_events=[
            ev("E1", "L1", "issued", "2026-10-01T00:00:00Z"),
            ev("E2", "L1", "assigned", "2026-10-02T00:00:00Z", site="a.example"),
            ev("E3", "L1", "transferred", "2026-10-10T00:00:00Z", site="b.example"),
            ev("E4", "L2", "issued", "2026-10-11T10:00:00Z"),
            ev("E5", "L1", "revoked", "2026-10-20T12:00:00Z"),
        ],
    )
    con = build(folder, "2026-10")
    assert rows(con, "select count(*) as n from rejected_rows") == [{"n": 0}]
    assert license_days(con) == {"L1": 20, "L2": 21}
    (line,) = lines(con)
    assert line["description"] == "backup: 41 license-days x 4.95 / 31 days (October 2026)"
    assert (line["quantity"], line["amount"]) == (41, Decimal("6.55"))
    # "why was I billed 41 days for backup?" in one query
    why = rows(
        con,
        "select license_id, days, first_day, last_day from license_days "
        "where account_id = ? and product = ? order by license_id",
        ["J1", "backup"],
    )
    assert why == [
        {
            "license_id": "L1",
            "days": 20,
            "first_day": date(2026, 10, 1),
            "last_day": date(2026, 10, 20),
        },
        {
            "license_id": "L2",
            "days": 21,
            "first_day": date(2026, 10, 11),
            "last_day": date(2026, 10, 31),
        },
    ]


def test_two_products_on_one_invoice(tmp_path):
    # backup L1 all October: 31 x 4.95 / 31 = 4.95
    # scan L2 from Oct 17 00:00: Oct 17..31 = 15 days; 15 x 9.50 / 31 = 4.5968 -> 4.60
    # one LICENSE invoice, total 4.95 + 4.60 = 9.55
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day")],
        license_prices=[BACKUP_USD, {"product": "scan", "currency": "USD", "unit_price": "9.50"}],
        license_events=[
            ev("E1", "L2", "issued", "2026-10-17T00:00:00Z", product="scan"),
            ev("E2", "L1", "issued", "2026-09-01T00:00:00Z"),
        ],
    )
    con = build(folder, "2026-10")
    assert [(r["line_no"], r["quantity"], r["amount"]) for r in lines(con)] == [
        (1, 31, Decimal("4.95")),
        (2, 15, Decimal("4.60")),
    ]
    found = invoices(con)
    assert list(found) == ["2026-10-J1-LICENSE"]
    assert found["2026-10-J1-LICENSE"]["invoice_type"] == "license_days"
    assert found["2026-10-J1-LICENSE"]["total"] == Decimal("9.55")
    assert found["2026-10-J1-LICENSE"]["status"] == "issued"
    types = {
        r["column_name"]: r["column_type"]
        for r in rows(con, "describe int_invoice_lines_license_days")
    }
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["unit_price"] == "DECIMAL(18,6)"


ISSUE = ev("E1", "L1", "issued", "2026-10-05T09:00:00Z")
REVOKE = ev("E2", "L1", "revoked", "2026-10-10T09:00:00Z")


# Each case: the events (line 2 onwards), the expected fate of each line that is not
# accepted (a piece of its reason), and L1's days in October (None: not billed).
SEQUENCE_CASES = {
    "before issue": (
        [ISSUE, ev("E2", "L1", "assigned", "2026-10-04T09:00:00Z")],
        {3: "event for license L1 before it was issued at 2026-10-05 09:00 UTC"},
        27,  # Oct 5..31
    ),
    "never issued": (
        [ISSUE, ev("E2", "L9", "assigned", "2026-10-06T09:00:00Z")],
        {3: "license L9 was never issued"},
        27,
    ),
    "after revoke": (
        [ISSUE, REVOKE, ev("E3", "L1", "assigned", "2026-10-12T09:00:00Z")],
        {4: "license L1 was already revoked at 2026-10-10 09:00 UTC"},
        6,  # Oct 5..10
    ),
    "same instant as the revoke, later in the file": (
        [ISSUE, REVOKE, ev("E3", "L1", "assigned", "2026-10-10T09:00:00Z")],
        {4: "license L1 was already revoked at 2026-10-10 09:00 UTC"},
        6,
    ),
    "same instant as the revoke, earlier in the file": (
        [ISSUE, ev("E3", "L1", "assigned", "2026-10-10T09:00:00Z"), REVOKE],
        {},
        6,
    ),
    "another account than the issue": (
        [ISSUE, ev("E2", "L1", "assigned", "2026-10-06T09:00:00Z", account_id="J2")],
        {3: "license L1 was issued to account 'J1', not 'J2'"},
        27,
    ),
    "second issue, and what follows it": (
        [
            ISSUE,
            ev("E2", "L1", "issued", "2026-10-06T09:00:00Z"),
            ev("E3", "L1", "revoked", "2026-10-08T09:00:00Z"),
        ],
        {
            3: "license L1 was already issued at 2026-10-05 09:00 UTC",
            4: "license L1: its issue on line 3 was rejected",
        },
        27,  # the revoke is rejected: the license stays open, Oct 5..31
    ),
    "second revoke": (
        [ISSUE, REVOKE, ev("E3", "L1", "revoked", "2026-10-12T09:00:00Z")],
        {4: "license L1 was already revoked at 2026-10-10 09:00 UTC"},
        6,
    ),
    "events after an issue of an unknown account": (
        [
            ev("E1", "L1", "issued", "2026-10-05T09:00:00Z", account_id="NOPE"),
            ev("E2", "L1", "issued", "2026-10-06T09:00:00Z"),
            ev("E3", "L1", "revoked", "2026-10-08T09:00:00Z"),
        ],
        {
            2: "unknown account 'NOPE'",
            3: "license L1: its issue on line 2 was rejected",
            4: "license L1: its issue on line 2 was rejected",
        },
        None,
    ),
    "events after an issue whose time does not parse (later = later in the file)": (
        [
            ev("E0", "L1", "assigned", "2026-10-01T09:00:00Z"),
            ev("E1", "L1", "issued", "10/05/2026"),
            ev("E2", "L1", "issued", "2026-10-06T09:00:00Z"),
        ],
        {
            2: "license L1 was never issued",
            3: "occurred_at '10/05/2026' is not an ISO 8601 timestamp",
            4: "license L1: its issue on line 3 was rejected",
        },
        None,
    ),
    "an exact duplicate of the issue is a duplicate, not a second issue": (
        [ISSUE, ISSUE, REVOKE],
        {},
        6,
    ),
    "events of an account not billed by license-days": (
        [ISSUE, ev("E5", "L5", "issued", "2026-10-05T09:00:00Z", account_id="H1")],
        {3: "account 'H1' is not billed by license-days (hwm)"},
        27,
    ),
}


@pytest.mark.parametrize(
    ("events", "rejected", "l1_days"), SEQUENCE_CASES.values(), ids=SEQUENCE_CASES.keys()
)
def test_sequence_rules(tmp_path, events, rejected, l1_days):
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day"), account("J2", "license_day"), account("H1")],
        license_prices=[BACKUP_USD],
        license_events=events,
    )
    con = build(folder, "2026-10")
    fates = rows(
        con,
        "select line_number, row_status, reject_reason from int_license_events_checked "
        "order by line_number",
    )
    assert len(fates) == len(events)
    for fate in fates:
        expected = rejected.get(fate["line_number"])
        if expected is None:
            assert fate["row_status"] in ("accepted", "duplicate"), fate
        else:
            assert fate["row_status"] == "rejected", fate
            assert expected in fate["reject_reason"], fate
    duplicates = [f["line_number"] for f in fates if f["row_status"] == "duplicate"]
    assert duplicates == ([3] if events[:2] == [ISSUE, ISSUE] else [])
    # every rejection is listed with its file and line, and none is lost (§4)
    listed = rows(
        con,
        "select line_number from rejected_rows where file = 'license_events.csv' "
        "order by line_number",
    )
    assert [r["line_number"] for r in listed] == sorted(rejected)
    (counts,) = rows(con, "select * from load_counts where file = 'license_events.csv'")
    assert counts["rows_read"] == counts["accepted"] + counts["duplicates"] + counts["rejected"]
    assert license_days(con).get("L1") == l1_days
    # a rejected row of J1 dated in October holds J1's invoice
    invoice = invoices(con).get("2026-10-J1-LICENSE")
    j1_rejected = any(
        r["account_id"] == "J1" for r in rows(con, "select account_id from rejected_rows")
    )
    if invoice is not None:
        assert invoice["status"] == ("held" if j1_rejected else "issued")


def test_missing_price_and_rejected_price_row_hold_the_invoice(tmp_path):
    # J1 (USD): backup's USD price 4.95 stands, but line 3 (another USD price) is rejected
    #   -> priced 31 x 4.95 / 31 = 4.95, held by the rejected price row.
    # J2 (EUR): backup has an EUR price 4.50 -> 31 x 4.50 / 31 = 4.50, issued
    #   (the rejected row is a USD price).
    # J3 (GBP): no price for backup in GBP -> no amount, held.
    folder = write_exports(
        tmp_path,
        accounts=[
            account("J1", "license_day"),
            account("J2", "license_day", currency="EUR"),
            account("J3", "license_day", currency="GBP"),
        ],
        license_prices=[
            BACKUP_USD,
            {"product": "backup", "currency": "USD", "unit_price": "5.95"},
            {"product": "backup", "currency": "EUR", "unit_price": "4.50"},
        ],
        license_events=[
            ev("E1", "L1", "issued", "2026-09-01T00:00:00Z", account_id="J1"),
            ev("E2", "L2", "issued", "2026-09-01T00:00:00Z", account_id="J2"),
            ev("E3", "L3", "issued", "2026-09-01T00:00:00Z", account_id="J3"),
        ],
    )
    con = build(folder, "2026-10")
    by_account = {r["account_id"]: r for r in lines(con)}
    assert by_account["J1"]["amount"] == Decimal("4.95")
    assert by_account["J1"]["hold_reason"].startswith("license_prices line 3 rejected")
    assert (by_account["J2"]["amount"], by_account["J2"]["hold_reason"]) == (Decimal("4.50"), None)
    j3 = by_account["J3"]
    assert (j3["quantity"], j3["unit_price"], j3["amount"]) == (31, None, None)
    assert j3["hold_reason"] == "no price for backup in GBP"
    assert (
        j3["description"] == "backup: 31 license-days x (no price in GBP) / 31 days (October 2026)"
    )
    found = invoices(con)
    assert found["2026-10-J1-LICENSE"]["status"] == "held"
    assert found["2026-10-J2-LICENSE"]["status"] == "issued"
    assert found["2026-10-J3-LICENSE"]["status"] == "held"
    assert found["2026-10-J3-LICENSE"]["total"] == Decimal("0.00")
    assert "no price for backup in GBP" in found["2026-10-J3-LICENSE"]["hold_reason"]


@pytest.mark.parametrize(
    ("payment_method", "issuing_paused", "payment_action"),
    [
        ("none", True, "send_invoice"),
        ("card", False, "autopay"),
        ("invoice", False, "send_invoice"),
    ],
)
def test_issuing_paused_without_a_payment_method(
    tmp_path, payment_method, issuing_paused, payment_action
):
    # Jetpack: no payment method on file -> issuing new licenses is paused.
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", "license_day", payment_method=payment_method)],
        license_prices=[BACKUP_USD],
        license_events=[ev("E1", "L1", "issued", "2026-09-01T00:00:00Z")],
    )
    con = build(folder, "2026-10")
    invoice = invoices(con)["2026-10-J1-LICENSE"]
    assert invoice["issuing_paused"] is issuing_paused
    assert invoice["payment_action"] == payment_action
