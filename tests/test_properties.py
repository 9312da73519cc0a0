"""Properties of the close over generated export folders (hypothesis).

Small folders of hwm, prepaid and license_day accounts with random snapshots
(offsets, duplicates, garbage values), license events and balance transactions.
Each build takes ~2 s, so the `ci` profile runs few examples; `deep` runs many.
"""

from __future__ import annotations

import calendar
import random
import re
import shutil
import uuid
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.exports import account, build, rows, write_exports

PERIOD = "2026-10"
EXAMPLES = max(4, settings.default.max_examples // 4)
MARTS = [
    "invoices",
    "invoice_lines",
    "hwm_usage",
    "license_days",
    "prepaid_balances",
    "reconciliation",
    "rejected_rows",
    "load_counts",
]

garbage = st.sampled_from(["x", "-1", "2.5", "", "1e3", " 7 ", "last tuesday"])
offsets = st.sampled_from(["Z", "+02:00", "-05:00", "", "+00:00"])


@st.composite
def snapshot(draw: st.DrawFn, account_ids: list[str]) -> dict[str, object]:
    month = draw(st.sampled_from(["2026-09", "2026-10", "2026-11"]))
    day = draw(st.integers(1, 30))
    hour = draw(st.integers(0, 23))
    observed = f"{month}-{day:02d}T{hour:02d}:00:00{draw(offsets)}"
    quantity: object = draw(st.integers(0, 40))
    if draw(st.integers(0, 9)) == 0:
        quantity = draw(garbage)
    if draw(st.integers(0, 14)) == 0:
        observed = draw(garbage)
    return {
        "account_id": draw(st.sampled_from([*account_ids, "GHOST"])),
        "observed_at": observed,
        "metric": draw(st.sampled_from(["users", "users", "devices"])),
        "quantity": quantity,
    }


@st.composite
def export_folder(draw: st.DrawFn, conflicts: bool = True) -> dict[str, list[dict[str, object]]]:
    """The tables of a small export folder (as write_exports takes them)."""
    n_hwm = draw(st.integers(1, 3))
    accounts = [
        account(f"H{i}", contracted_quantity=str(draw(st.integers(0, 20)))) for i in range(n_hwm)
    ]
    accounts.append(account("P0", billing_model="prepaid", unit_price="2.50"))
    accounts.append(account("L0", billing_model="license_day"))
    ids = [a["account_id"] for a in accounts]
    snapshots = draw(st.lists(snapshot(ids), max_size=14))
    # exact duplicates: copies of drawn rows
    snapshots += (
        [dict(s) for s in draw(st.lists(st.sampled_from(snapshots), max_size=3))]
        if snapshots
        else []
    )
    if not conflicts:  # one value per key (a conflicting duplicate depends on file order)
        seen: dict[tuple, object] = {}
        kept = []
        for s in snapshots:
            key = (s["account_id"], s["metric"], s["observed_at"])
            if seen.setdefault(key, s["quantity"]) == s["quantity"]:
                kept.append(s)
        snapshots = kept
    txns = [
        {
            "txn_id": f"T{i}",
            "account_id": "P0",
            "occurred_at": f"2026-{draw(st.sampled_from(['09', '10']))}-"
            f"{draw(st.integers(1, 28)):02d}",
            "kind": kind,
            "amount": ""
            if kind == "license_pack"
            else draw(st.sampled_from(["5.00", "20.00", "x"])),
            "device_months": str(draw(st.integers(1, 5))) if kind == "license_pack" else "",
        }
        for i, kind in enumerate(
            draw(
                st.lists(
                    st.sampled_from(["purchase", "refund", "license_pack", "reload"]), max_size=5
                )
            )
        )
    ]
    events = []
    for i in range(draw(st.integers(0, 3))):
        issued = (
            f"2026-{draw(st.sampled_from(['09', '10'])):s}-{draw(st.integers(1, 28)):02d}T10:00:00Z"
        )
        events.append(
            {
                "event_id": f"E{i}a",
                "license_id": f"LIC{i}",
                "account_id": "L0",
                "product": "backup",
                "event": "issued",
                "occurred_at": issued,
            }
        )
        revoked = (
            f"2026-{draw(st.sampled_from(['10', '11'])):s}-{draw(st.integers(1, 28)):02d}T10:00:00Z"
        )
        # a revoke at the very instant of the issue is ordered by file order (the tie rule)
        if draw(st.booleans()) and (conflicts or revoked != issued):
            events.append(
                {
                    "event_id": f"E{i}b",
                    "license_id": f"LIC{i}",
                    "account_id": "L0",
                    "product": "backup",
                    "event": "revoked",
                    "occurred_at": revoked,
                }
            )
    return {
        "accounts": accounts,
        "usage_snapshots": snapshots,
        "balance_transactions": txns,
        "license_events": events,
        "license_prices": [{"product": "backup", "currency": "USD", "unit_price": "4.95"}],
    }


def new_folder(tmp_path_factory, tables: dict[str, list[dict[str, object]]]) -> Path:
    folder = tmp_path_factory.getbasetemp() / f"exports-{uuid.uuid4().hex}"
    shutil.rmtree(folder, ignore_errors=True)
    return write_exports(folder, **tables)


def mart_contents(con: duckdb.DuckDBPyConnection, drop_lines: bool = False) -> dict[str, list]:
    """Every mart's full contents, sorted; optionally without line numbers and raw text."""
    found = {}
    for mart in MARTS:
        cursor = con.execute(f"select * from {mart}")
        names = [d[0] for d in cursor.description]
        keep = [i for i, n in enumerate(names) if not (drop_lines and n in ("line_number", "raw"))]
        table = []
        for row in cursor.fetchall():
            values = [row[i] for i in keep]
            if drop_lines:
                values = [normalise_lines(v) if isinstance(v, str) else v for v in values]
            table.append(tuple(values))
        found[mart] = sorted(table, key=repr)
    return found


def normalise_lines(text: str) -> str:
    """'usage_snapshots line 5 (...); ... line 3 (...)' -> the same parts, numbers gone, sorted."""
    if " line " not in text:
        return text
    return "; ".join(sorted(re.sub(r"\bline \d+", "line N", text).split("; ")))


@settings(max_examples=EXAMPLES)
@given(tables=export_folder())
def test_every_row_is_counted_hwm_bounds_and_unique_invoices(tmp_path_factory, tables):
    con = build(new_folder(tmp_path_factory, tables), PERIOD)
    for r in rows(con, "select * from load_counts"):
        assert r["rows_read"] == r["accepted"] + r["duplicates"] + r["rejected"], r
    assert (
        rows(con, "select sum(rejected) as n from load_counts")[0]["n"]
        == rows(con, "select count(*) as n from rejected_rows")[0]["n"]
    )
    # HWM >= every accepted snapshot of the period of the account's metric, and >= carried-in.
    violations = rows(
        con,
        """
        select u.account_id, u.hwm, s.quantity
        from hwm_usage u
        join int_accounts a using (account_id)
        join int_usage_snapshots s on s.account_id = u.account_id and s.metric = a.metric
        cross join close_params p
        where s.observed_at >= p.period_start and s.observed_at < p.period_end
            and s.quantity > u.hwm
        union all
        select account_id, hwm, carried_in_quantity from hwm_usage
        where carried_in_quantity > hwm
        """,
    )
    assert violations == []
    numbers = [r["invoice_number"] for r in rows(con, "select invoice_number from invoices")]
    assert len(numbers) == len(set(numbers))
    # license days per license within [0, days in month]
    days = calendar.monthrange(2026, 10)[1]
    assert all(0 <= r["days"] <= days for r in rows(con, "select days from license_days"))


@settings(max_examples=EXAMPLES)
@given(tables=export_folder(conflicts=False), seed=st.integers(0, 2**16))
def test_rebuild_is_identical_and_row_order_changes_only_line_numbers(
    tmp_path_factory, tables, seed
):
    folder = new_folder(tmp_path_factory, tables)
    first = mart_contents(build(folder, PERIOD))
    assert mart_contents(build(folder, PERIOD)) == first  # same inputs, same tables
    shuffled = {
        name: random.Random(seed).sample(table, len(table)) for name, table in tables.items()
    }
    other = mart_contents(build(new_folder(tmp_path_factory, shuffled), PERIOD), drop_lines=True)
    assert other == mart_contents(build(folder, PERIOD), drop_lines=True)


@settings(max_examples=EXAMPLES)
@given(tables=export_folder())
def test_prepaid_balances_carry_from_one_period_to_the_next(tmp_path_factory, tables):
    folder = new_folder(tmp_path_factory, tables)
    september = rows(build(folder, "2026-09"), "select * from prepaid_balances")
    october = rows(build(folder, PERIOD), "select * from prepaid_balances")
    for sep in september:
        (octo,) = [o for o in october if o["account_id"] == sep["account_id"]]
        assert octo["opening_balance"] == sep["closing_balance"]
    for month in september + october:
        available = month["opening_balance"] + month["credits"]
        assert month["drawdown"] + month["shortfall"] == month["charge"]
        assert month["closing_balance"] == available - month["drawdown"]
        assert month["drawdown"] <= max(available, 0)
