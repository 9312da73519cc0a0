"""High-water-mark billing (contract §2.1, §2.4) on known answers worked out by hand."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.exports import account, build, rows, write_exports


def snap(account_id: str, observed_at: str, quantity: object, metric: str = "users") -> dict:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": metric,
        "quantity": quantity,
    }


def invoices(con) -> dict[str, dict]:
    return {r["invoice_number"]: r for r in rows(con, "select * from invoices")}


def test_jumpcloud_contracted_14_with_17_at_any_point_gets_overage_for_3(tmp_path):
    # JumpCloud FAQ: contracted at 14 users, 17 on the platform at any point:
    # base 14 x 10.00 = 140.00 and a separate overage invoice 3 x 10.00 = 30.00.
    folder = write_exports(
        tmp_path,
        accounts=[account("JC", contracted_quantity="14")],
        usage_snapshots=[
            snap("JC", "2026-10-01T09:00:00Z", 12),
            snap("JC", "2026-10-14T15:30:00Z", 17),
            snap("JC", "2026-10-20T08:00:00Z", 15),
        ],
    )
    con = build(folder, "2026-10")
    found = invoices(con)
    assert set(found) == {"2026-10-JC-BASE", "2026-10-JC-OVERAGE"}
    assert found["2026-10-JC-BASE"]["total"] == Decimal("140.00")
    assert found["2026-10-JC-OVERAGE"]["total"] == Decimal("30.00")
    lines = rows(con, "select * from invoice_lines where invoice_number like '%OVERAGE'")
    assert [(r["quantity"], r["unit_price"], r["amount"]) for r in lines] == [
        (3, Decimal("10"), Decimal("30.00"))
    ]
    (usage,) = rows(con, "select * from hwm_usage")
    assert usage["hwm"] == 17
    assert usage["overage_quantity"] == 3
    assert usage["hwm_observed_at"] == datetime(2026, 10, 14, 15, 30)


def test_jumpcloud_hwm_of_30_is_billed_as_30_for_the_whole_month(tmp_path):
    # JumpCloud FAQ: the highest number in February was 30 users -> invoiced for 30.
    # No contract (C = 0): base = 30 x 4.50 = 135.00, no overage invoice.
    folder = write_exports(
        tmp_path,
        accounts=[account("FEB", unit_price="4.50")],
        usage_snapshots=[
            snap("FEB", "2026-02-02T00:00:00Z", 22),
            snap("FEB", "2026-02-11T00:00:00Z", 30),
            snap("FEB", "2026-02-25T00:00:00Z", 25),
        ],
    )
    con = build(folder, "2026-02")
    found = invoices(con)
    assert list(found) == ["2026-02-FEB-BASE"]
    assert found["2026-02-FEB-BASE"]["total"] == Decimal("135.00")


def test_quantity_carried_in_with_no_snapshot_in_the_month(tmp_path):
    # 8 users since September 20, nothing reported in October: HWM 8 from Oct 1 00:00.
    folder = write_exports(
        tmp_path,
        accounts=[account("CARRY")],
        usage_snapshots=[snap("CARRY", "2026-09-20T10:00:00Z", 8)],
    )
    con = build(folder, "2026-10")
    (usage,) = rows(con, "select * from hwm_usage")
    assert (usage["carried_in_quantity"], usage["hwm"]) == (8, 8)
    assert usage["hwm_observed_at"] == datetime(2026, 10, 1)
    assert invoices(con)["2026-10-CARRY-BASE"]["total"] == Decimal("80.00")  # 8 x 10.00


def test_carried_in_quantity_counts_when_it_beats_the_months_snapshots(tmp_path):
    # Carried in 12, then 9 and 10 in October: the HWM is still 12.
    folder = write_exports(
        tmp_path,
        accounts=[account("DROP")],
        usage_snapshots=[
            snap("DROP", "2026-09-30T23:59:59Z", 12),
            snap("DROP", "2026-10-03T00:00:00Z", 9),
            snap("DROP", "2026-10-09T00:00:00Z", 10),
        ],
    )
    (usage,) = rows(build(folder, "2026-10"), "select * from hwm_usage")
    assert (usage["carried_in_quantity"], usage["hwm"]) == (12, 12)


def test_a_peak_that_falls_back_within_the_month_still_sets_the_hwm(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("PEAK", contracted_quantity="10")],
        usage_snapshots=[
            snap("PEAK", "2026-10-02T00:00:00Z", 5),
            snap("PEAK", "2026-10-15T12:00:00Z", 20),
            snap("PEAK", "2026-10-15T13:00:00Z", 20),
            snap("PEAK", "2026-10-16T00:00:00Z", 3),
        ],
    )
    con = build(folder, "2026-10")
    (usage,) = rows(con, "select * from hwm_usage")
    assert usage["hwm"] == 20
    assert usage["hwm_observed_at"] == datetime(2026, 10, 15, 12)  # first time it was reached
    assert invoices(con)["2026-10-PEAK-OVERAGE"]["total"] == Decimal("100.00")  # 10 x 10.00


def test_offset_timestamps_are_placed_in_their_utc_month(tmp_path):
    # 2026-10-31T23:30-02:00 is 2026-11-01 01:30 UTC: November, not October.
    # 2026-11-01T00:30+02:00 is 2026-10-31 22:30 UTC: October.
    folder = write_exports(
        tmp_path,
        accounts=[account("TZ")],
        usage_snapshots=[
            snap("TZ", "2026-10-05T00:00:00Z", 4),
            snap("TZ", "2026-10-31T23:30:00-02:00", 50),
            snap("TZ", "2026-11-01T00:30:00+02:00", 7),
        ],
    )
    con = build(folder, "2026-10")
    (usage,) = rows(con, "select * from hwm_usage")
    assert usage["hwm"] == 7
    november = rows(build(folder, "2026-11"), "select * from hwm_usage")[0]
    assert (november["carried_in_quantity"], november["hwm"]) == (7, 50)


def test_snapshots_of_the_other_metric_are_ignored(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("MET", metric="users")],
        usage_snapshots=[
            snap("MET", "2026-10-05T00:00:00Z", 4, metric="users"),
            snap("MET", "2026-10-06T00:00:00Z", 90, metric="devices"),
        ],
    )
    (usage,) = rows(build(folder, "2026-10"), "select * from hwm_usage")
    assert usage["hwm"] == 4


def test_contracted_account_is_billed_its_base_with_no_snapshots_at_all(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("QUIET", contracted_quantity="5")])
    con = build(folder, "2026-10")
    assert invoices(con)["2026-10-QUIET-BASE"]["total"] == Decimal("50.00")
    (usage,) = rows(con, "select * from hwm_usage")
    assert (usage["hwm"], usage["hwm_observed_at"]) == (0, None)


def test_zero_total_issues_no_invoice(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("NONE")])  # C = 0, no usage
    assert invoices(build(folder, "2026-10")) == {}


@pytest.mark.parametrize(
    ("unit_price", "payment_method", "autopay_limit", "action"),
    [
        ("3999.99", "card", "", "autopay"),  # below the default 4,000.00 limit
        ("4000.00", "card", "", "send_invoice"),  # not below: invoiced
        ("4000.00", "card", "5000", "autopay"),  # the account's own limit
        ("10.00", "invoice", "", "send_invoice"),
        ("10.00", "none", "", "send_invoice"),
    ],
)
def test_payment_action_follows_the_autopay_limit(
    tmp_path, unit_price, payment_method, autopay_limit, action
):
    folder = write_exports(
        tmp_path,
        accounts=[
            account(
                "PAY",
                unit_price=unit_price,
                contracted_quantity="1",
                payment_method=payment_method,
                autopay_limit=autopay_limit,
            )
        ],
    )
    (invoice,) = invoices(build(folder, "2026-10")).values()
    assert invoice["payment_action"] == action
    assert invoice["issuing_paused"] is False  # only license_day accounts pause issuing


def test_jpy_amounts_round_to_whole_yen_half_up(tmp_path):
    # 3 x 100.5 JPY = 301.5 -> 302 (half-up, no minor unit); autopay limit 4,000 JPY.
    folder = write_exports(
        tmp_path,
        accounts=[account("YEN", currency="JPY", unit_price="100.5", contracted_quantity="3")],
    )
    (invoice,) = invoices(build(folder, "2026-10")).values()
    assert (invoice["currency"], invoice["total"]) == ("JPY", Decimal("302"))
    assert invoice["payment_action"] == "autopay"


def test_cent_rounding_is_half_up_once_per_line(tmp_path):
    # 3 x 0.125 = 0.375 -> 0.38 (half-up); 7 x 0.125 = 0.875 -> 0.88.
    folder = write_exports(
        tmp_path,
        accounts=[account("HALF", unit_price="0.125", contracted_quantity="3")],
        usage_snapshots=[snap("HALF", "2026-10-02T00:00:00Z", 10)],
    )
    found = invoices(build(folder, "2026-10"))
    assert found["2026-10-HALF-BASE"]["total"] == Decimal("0.38")
    assert found["2026-10-HALF-OVERAGE"]["total"] == Decimal("0.88")


@pytest.mark.parametrize(
    ("period", "invoice_date", "due_date"),
    [
        ("2026-10", date(2026, 11, 3), date(2026, 12, 3)),
        ("2026-12", date(2027, 1, 3), date(2027, 2, 2)),
    ],
)
def test_invoice_dated_the_3rd_of_next_month_due_30_days_later(
    tmp_path, period, invoice_date, due_date
):
    folder = write_exports(tmp_path, accounts=[account("DATE", contracted_quantity="1")])
    (invoice,) = invoices(build(folder, period)).values()
    assert (invoice["invoice_date"], invoice["due_date"]) == (invoice_date, due_date)


def test_exact_and_conflicting_duplicate_snapshots(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("DUP")],
        usage_snapshots=[
            snap("DUP", "2026-10-05T10:00:00Z", 6),
            snap("DUP", "2026-10-05T10:00:00Z", 6),  # exact duplicate: counted, not rejected
            snap("DUP", "2026-10-05T12:00:00+02:00", 6),  # same instant, other offset: exact
            snap("DUP", "2026-10-05T10:00:00Z", 60),  # conflicting: rejected, first stands
        ],
    )
    con = build(folder, "2026-10")
    (usage,) = rows(con, "select * from hwm_usage")
    assert usage["hwm"] == 6
    (counts,) = rows(con, "select * from load_counts where file = 'usage_snapshots.csv'")
    assert (counts["rows_read"], counts["accepted"], counts["duplicates"], counts["rejected"]) == (
        4,
        1,
        2,
        1,
    )
    (rejected,) = rows(con, "select * from rejected_rows")
    assert rejected["line_number"] == 5  # header is line 1
    assert "conflicting duplicate" in rejected["reason"]
    assert rejected["raw"] == "DUP,2026-10-05T10:00:00Z,users,60"
    # A rejected row of the account dated in the period holds its invoice (§4).
    (invoice,) = invoices(con).values()
    assert invoice["status"] == "held"
    assert "usage_snapshots line 5" in invoice["hold_reason"]


def test_unknown_account_rows_are_rejected_and_hold_nothing(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("KNOWN", contracted_quantity="1")],
        usage_snapshots=[snap("GHOST", "2026-10-05T10:00:00Z", 3)],
    )
    con = build(folder, "2026-10")
    (rejected,) = rows(con, "select * from rejected_rows")
    assert (rejected["file"], rejected["line_number"], rejected["account_id"]) == (
        "usage_snapshots.csv",
        2,
        "GHOST",
    )
    assert rejected["reason"] == "unknown account 'GHOST'"
    assert [i["status"] for i in invoices(con).values()] == ["issued"]


def test_a_rejected_row_holds_only_the_periods_it_is_dated_in(tmp_path):
    # A bad September snapshot holds September's invoice, not October's (hwm account);
    # an unparseable timestamp is undated and holds every period.
    folder = write_exports(
        tmp_path,
        accounts=[account("SEP", contracted_quantity="1"), account("UND", contracted_quantity="1")],
        usage_snapshots=[
            snap("SEP", "2026-09-10T00:00:00Z", "three"),
            snap("UND", "last tuesday", 3),
        ],
    )
    october = {i["account_id"]: i["status"] for i in invoices(build(folder, "2026-10")).values()}
    september = {i["account_id"]: i["status"] for i in invoices(build(folder, "2026-09")).values()}
    assert october == {"SEP": "issued", "UND": "held"}
    assert september == {"SEP": "held", "UND": "held"}


def test_invoice_numbers_are_unique_and_follow_the_contract_pattern(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account(f"A{i}", contracted_quantity="2") for i in range(5)],
        usage_snapshots=[snap(f"A{i}", "2026-10-05T00:00:00Z", 2 + i) for i in range(5)],
    )
    numbers = [
        r["invoice_number"] for r in rows(build(folder, "2026-10"), "select * from invoices")
    ]
    assert len(numbers) == len(set(numbers)) == 5 + 4  # 5 base, 4 over contract
    assert all(
        n.startswith("2026-10-A") and n.split("-")[-1] in {"BASE", "OVERAGE"} for n in numbers
    )


def test_hold_reason_names_the_first_five_rejected_rows_and_counts_the_rest(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("MANY", contracted_quantity="1")],
        usage_snapshots=[
            snap("MANY", f"2026-10-{day:02d}T00:00:00Z", "n/a") for day in range(1, 8)
        ],
    )
    (invoice,) = invoices(build(folder, "2026-10")).values()
    assert invoice["status"] == "held"
    # 7 bad rows on lines 2-8: lines 2..6 named, "and 2 more"
    assert invoice["hold_reason"].startswith("rejected input rows: usage_snapshots line 2 (")
    assert "usage_snapshots line 6 (" in invoice["hold_reason"]
    assert "line 7 (" not in invoice["hold_reason"]
    assert invoice["hold_reason"].endswith("; and 2 more")
