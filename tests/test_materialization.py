"""A model's header says whether it is a view or a table; analysts query either the same way.

Views are for models that only feed the next one or filter a table (the accepted
snapshots, the snapshot ledger): they cost nothing to build, and `build.<name>` still
answers like a table.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.models import SQL_DIR, ClosePeriod, Model, build_models, discover_models
from tests.exports import account, build, rows, write_exports


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str:
    (kind,) = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'build' and table_name = ?",
        [name],
    ).fetchone()
    return kind


def test_the_header_line_chooses_view_or_table() -> None:
    kinds = {m.name: m.materialized for m in discover_models()}
    # 10M rows: typed by the load as it reads them, written once (raw_usage_snapshots_rows)
    assert kinds["stg_usage_snapshots"] == "view"
    assert kinds["int_usage_snapshots"] == "view"
    assert kinds["int_usage_snapshots_checked"] == "view"
    assert kinds["invoices"] == "table"  # marts are published: always tables
    assert {m.name for m in discover_models() if m.layer == "marts"} <= {
        name for name, kind in kinds.items() if kind == "table"
    }


def test_an_unknown_materialisation_is_refused_by_name() -> None:
    header = "-- m: one row\n-- materialized: cte\n"
    model = Model("m", "staging", SQL_DIR / "m.sql", header + "select 1")
    with pytest.raises(ValueError, match="model m: materialized must be table or view"):
        _ = model.materialized


def test_views_answer_like_tables_from_a_fresh_connection(tmp_path: Path) -> None:
    folder = write_exports(
        tmp_path / "in",
        accounts=[account("A1")],
        usage_snapshots=[
            {"account_id": "A1", "observed_at": "2026-10-05", "metric": "users", "quantity": "3"},
            {"account_id": "A1", "observed_at": "2026-10-06", "metric": "users", "quantity": "x"},
        ],
    )
    database = tmp_path / "w.duckdb"
    build(folder, "2026-10", database=str(database)).close()
    con = duckdb.connect(str(database))  # no search path: the view binds in build
    assert _kind(con, "stg_usage_snapshots") == "VIEW"
    assert _kind(con, "raw_usage_snapshots_rows") == "BASE TABLE"
    assert _kind(con, "int_usage_snapshots_checked") == "VIEW"
    staged = rows(
        con, "select quantity, invalid_reason from build.stg_usage_snapshots order by line_number"
    )
    assert [r["quantity"] for r in staged] == [3, None]
    assert staged[1]["invalid_reason"] == "quantity 'x' is not a whole number >= 0"
    # the one accepted snapshot (the other was rejected)
    assert rows(con, "select quantity from build.int_usage_snapshots") == [{"quantity": 3}]
    con.close()


def test_a_model_that_changes_kind_replaces_the_old_object(tmp_path: Path) -> None:
    folder = write_exports(tmp_path / "in", accounts=[account("A1")])
    con = build(folder, "2026-10")
    con.execute("drop view build.stg_accounts")
    con.execute("create table build.stg_accounts as select 1 as stale")  # an older build's table
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 12, 31))
    assert _kind(con, "stg_accounts") == "VIEW"
    assert rows(con, "select account_id from build.stg_accounts") == [{"account_id": "A1"}]


def test_only_the_snapshots_not_accepted_are_written_and_the_views_show_every_row(
    tmp_path: Path,
) -> None:
    # Line 2 stands; 3 copies it exactly; 4 says another quantity at the same instant
    # (the same instant as 2, written with an offset); 5 does not parse; 6 names an
    # account nobody knows; 7 is a second good snapshot.
    snapshot = {"account_id": "A1", "metric": "users"}
    folder = write_exports(
        tmp_path / "in",
        accounts=[account("A1")],
        usage_snapshots=[
            {**snapshot, "observed_at": "2026-10-05T12:00:00Z", "quantity": "3"},
            {**snapshot, "observed_at": "2026-10-05T12:00:00Z", "quantity": "3"},
            {**snapshot, "observed_at": "2026-10-05T14:00:00+02:00", "quantity": "4"},
            {**snapshot, "observed_at": "2026-10-05T12:00:00Z", "quantity": "x"},
            {**snapshot, "account_id": "NOBODY", "observed_at": "2026-10-06", "quantity": "1"},
            {**snapshot, "observed_at": "2026-10-07T00:00:00Z", "quantity": "5"},
        ],
    )
    con = build(folder, "2026-10")
    assert rows(con, "select * from build.int_usage_snapshots_set_aside order by line_number") == [
        {"line_number": 3, "row_status": "duplicate", "reject_reason": None},
        {
            "line_number": 4,
            "row_status": "rejected",
            "reject_reason": "conflicting duplicate snapshot: users at 2026-10-05 12:00:00 UTC "
            "already reported as 3",
        },
        {
            "line_number": 5,
            "row_status": "rejected",
            "reject_reason": "quantity 'x' is not a whole number >= 0",
        },
        {"line_number": 6, "row_status": "rejected", "reject_reason": "unknown account 'NOBODY'"},
    ]
    ledger = rows(
        con,
        "select line_number, row_status from build.int_usage_snapshots_checked "
        "order by line_number",
    )
    assert [(r["line_number"], r["row_status"]) for r in ledger] == [
        (2, "accepted"),
        (3, "duplicate"),
        (4, "rejected"),
        (5, "rejected"),
        (6, "rejected"),
        (7, "accepted"),
    ]
    accepted = rows(
        con, "select line_number, quantity from build.int_usage_snapshots order by line_number"
    )
    assert accepted == [{"line_number": 2, "quantity": 3}, {"line_number": 7, "quantity": 5}]
