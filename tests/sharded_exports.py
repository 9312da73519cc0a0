"""Helpers for the sharded-close tests: exports that tie accounts together across
shards, and comparisons of two closes (warehouse tables and workbook cells).

A sharded close is right when it is indistinguishable from the one-process close
of the same exports: every warehouse table (`except all` both ways) and every
workbook cell, run metadata aside.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import openpyxl

# Run metadata: differs between any two closes, sharded or not (when the run, or the
# warehouse's schema version, was written).
SKIPPED_TABLES = {"close_runs", "closebook_schema"}
COVER_RUN_LABELS = {"Run started (UTC)"}


def _read(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _append(folder: Path, table: str, rows: list[dict[str, str]]) -> None:
    path = folder / f"{table}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])


def add_cross_account_rows(folder: Path, period: str = "2026-10") -> dict[str, str]:
    """Append rows whose rules span accounts (and likely shards) to a generated export.

    Returns the account each case ties to another, by case name, so a test can check
    the case really happened (not only that both closes agree).
    """
    accounts = _read(folder, "accounts")
    by_model: dict[str, list[str]] = {}
    for row in accounts:
        by_model.setdefault(row["billing_model"], []).append(row["account_id"])
    events = _read(folder, "license_events")
    issues = [e for e in events if e["event"] == "issued"]
    first = issues[0]  # a license of license_day account A
    a = first["account_id"]
    others = [x for x in by_model["license_day"] if x != a]
    b, c, d = others[-1], others[-2], others[-3]
    late = next(e for e in issues if e["occurred_at"].startswith(period) and e["account_id"] != a)
    day = f"{period}-20T12:00:00Z"
    new_events = [
        # names another account than the license's issue: rejected, holds b
        {
            "event_id": "XEV-1",
            "license_id": first["license_id"],
            "account_id": b,
            "product": first["product"],
            "event": "transferred",
            "occurred_at": day,
        },
        # an event_id of account a reused by c (a conflicting duplicate): holds c
        {
            "event_id": first["event_id"],
            "license_id": "XL-1",
            "account_id": c,
            "product": first["product"],
            "event": "issued",
            "occurred_at": day,
        },
        # d's event_id reused by b: ties a-b (license) and b-d (event id) into one group
        {
            "event_id": "XEV-2",
            "license_id": "XL-2",
            "account_id": d,
            "product": first["product"],
            "event": "issued",
            "occurred_at": day,
        },
        {
            "event_id": "XEV-2",
            "license_id": "XL-3",
            "account_id": b,
            "product": first["product"],
            "event": "issued",
            "occurred_at": day,
        },
        # no account, an issue before another account's issue: poisons that license
        {
            "event_id": "XEV-3",
            "license_id": late["license_id"],
            "account_id": "",
            "product": late["product"],
            "event": "issued",
            "occurred_at": f"{period}-01T00:00:00Z",
        },
        # an unknown account, and a license no account ever issued
        {
            "event_id": "XEV-4",
            "license_id": "XL-4",
            "account_id": "NOBODY",
            "product": first["product"],
            "event": "issued",
            "occurred_at": day,
        },
        {
            "event_id": "XEV-5",
            "license_id": "XL-5",
            "account_id": "",
            "product": first["product"],
            "event": "revoked",
            "occurred_at": day,
        },
    ]
    _append(folder, "license_events", new_events)

    txns = _read(folder, "balance_transactions")
    p1 = txns[0]["account_id"]
    p2 = next(x for x in by_model["prepaid"] if x != p1)
    _append(
        folder,
        "balance_transactions",
        [
            # p1's txn_id reused by p2 with other values: rejected, holds p2
            {
                "txn_id": txns[0]["txn_id"],
                "account_id": p2,
                "occurred_at": day,
                "kind": "purchase",
                "amount": "10.00",
            },
            {
                "txn_id": "XTX-1",
                "account_id": "",
                "occurred_at": day,
                "kind": "purchase",
                "amount": "10.00",
            },
        ],
    )

    billed = _read(folder, "billed_invoices")
    h2 = by_model["hwm"][-1]
    _append(
        folder,
        "billed_invoices",
        [
            # another account's invoice number in this period: a conflicting duplicate, holds h2
            {
                "invoice_number": billed[0]["invoice_number"],
                "account_id": h2,
                "period": period,
                "currency": "USD",
                "amount": "1.00",
            },
            {
                "invoice_number": "X-INV-1",
                "account_id": "NOBODY",
                "period": period,
                "currency": "USD",
                "amount": "1.00",
            },
        ],
    )
    h3 = by_model["hwm"][-2]
    _append(
        folder,
        "usage_snapshots",
        [
            {"account_id": "NOBODY", "observed_at": day, "metric": "users", "quantity": "3"},
        ],
    )
    # a row the CSV reader cannot split (one field too many): no account to route by
    with (folder / "usage_snapshots.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{h3},{day},users,3,surplus\n")
    # a conflicting second row of an account: rejected, holds h3
    row = next(r for r in accounts if r["account_id"] == h3)
    _append(folder, "accounts", [{**row, "account_name": row["account_name"] + " (again)"}])
    return {
        "names_other_account": b,
        "event_id_reused": c,
        "txn_id_reused": p2,
        "invoice_number_reused": h2,
        "account_row_conflict": h3,
    }


def warehouse_differences(first: Path, second: Path) -> list[str]:
    """Every table of `main` compared row for row (`except all` both ways)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{first}' as a (read_only)")
        con.execute(f"attach '{second}' as b (read_only)")
        tables = {
            catalog: sorted(
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = ? and table_schema = 'main'",
                    [catalog],
                ).fetchall()
            )
            for catalog in ("a", "b")
        }
        problems = []
        if tables["a"] != tables["b"]:
            problems.append(f"tables differ: {tables['a']} vs {tables['b']}")
        for table in tables["a"]:
            if table in SKIPPED_TABLES or table not in tables["b"]:
                continue
            select = "select *"
            if table == "validation_results":
                # details carry how long a check took ("12 rows in 0.05s"): run metadata
                select = "select * replace (regexp_replace(details, ' in [0-9.]+s', '') as details)"
            for left, right in (("a", "b"), ("b", "a")):
                extra = con.execute(
                    f"select count(*) from ({select} from {left}.main.{table} "
                    f"except all {select} from {right}.main.{table})"
                ).fetchone()
                if extra and extra[0]:
                    problems.append(f"{table}: {extra[0]} rows only in {left}")
        return problems
    finally:
        con.close()


def workbook_differences(first: Path, second: Path) -> list[str]:
    """Every cell value of every sheet of the four workbooks (run metadata aside;
    paths under the two report folders compared relative to them)."""
    problems = []
    names = sorted(p.name for p in first.glob("*.xlsx"))
    if names != sorted(p.name for p in second.glob("*.xlsx")) or len(names) != 4:
        return [f"workbooks differ: {names}"]
    for name in names:
        left = openpyxl.load_workbook(first / name)
        right = openpyxl.load_workbook(second / name)
        if left.sheetnames != right.sheetnames:
            problems.append(f"{name}: sheets {left.sheetnames} vs {right.sheetnames}")
            continue
        for sheet in left.sheetnames:
            a_rows = list(left[sheet].iter_rows(values_only=True))
            b_rows = list(right[sheet].iter_rows(values_only=True))
            if len(a_rows) != len(b_rows):
                problems.append(f"{name}/{sheet}: {len(a_rows)} vs {len(b_rows)} rows")
                continue
            for number, (a_row, b_row) in enumerate(zip(a_rows, b_rows, strict=True), 1):
                if a_row and a_row[0] in COVER_RUN_LABELS:
                    continue
                a_cells = [_relative(v, first) for v in a_row]
                b_cells = [_relative(v, second) for v in b_row]
                if a_cells != b_cells:
                    problems.append(f"{name}/{sheet} row {number}: {a_cells} vs {b_cells}")
    return problems


def _relative(value: object, folder: Path) -> object:
    if isinstance(value, str):
        return value.replace(str(folder.parent), "<reports>")
    return value
