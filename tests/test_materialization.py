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
    assert kinds["stg_usage_snapshots"] == "table"  # 10M typed rows, read by three models
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
    assert _kind(con, "stg_usage_snapshots") == "BASE TABLE"
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
