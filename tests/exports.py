"""Build small export folders in tests and run the close's plain functions on them.

Tests state their inputs as lists of dicts (only the columns that matter; the
rest of a contract table's columns are written blank), so each test reads as
the case it checks.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb

from closebook.contract import INPUT_TABLES, TABLES_BY_NAME
from closebook.loading import load_exports
from closebook.models import ClosePeriod, build_models


def account(account_id: str, billing_model: str = "hwm", **fields: object) -> dict[str, object]:
    """An accounts row with sensible defaults: card payer, USD, 10.00 per user."""
    row: dict[str, object] = {
        "account_id": account_id,
        "account_name": f"Account {account_id}",
        "billing_model": billing_model,
        "metric": "devices" if billing_model == "prepaid" else "users",
        "unit_price": "" if billing_model == "license_day" else "10.00",
        "contracted_quantity": "",
        "currency": "USD",
        "payment_method": "card",
        "autopay_limit": "",
    }
    row.update(fields)
    return row


def write_exports(folder: Path, **tables: list[dict[str, object]]) -> Path:
    """Write `<table>.csv` for every required table (empty unless given) and the optional
    ones that are given. Values are written as text exactly as given."""
    folder.mkdir(parents=True, exist_ok=True)
    for table in INPUT_TABLES:
        rows = tables.get(table.name)
        if rows is None and not table.required_file:
            continue
        with (folder / f"{table.name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(TABLES_BY_NAME[table.name].columns)
            for row in rows or []:
                unknown = set(row) - set(table.columns)
                assert not unknown, f"{table.name} has no columns {unknown}"
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in table.columns])
    return folder


def build(
    folder: Path, period: str, as_of: date = date(2026, 12, 31), database: str = ":memory:"
) -> duckdb.DuckDBPyConnection:
    """Load `folder` and build every model for `period`; the build tables are queryable."""
    con = duckdb.connect(database)
    load_exports(con, folder)
    build_models(con, ClosePeriod.parse(period), as_of)
    return con


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[dict]:
    """Query results as a list of dicts (column name -> value)."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
