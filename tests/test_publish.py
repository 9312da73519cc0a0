"""The warehouse keeps every closed period; re-running a period replaces it (contract §5)."""

from __future__ import annotations

from datetime import date

import duckdb

from closebook.loading import load_exports
from closebook.models import ClosePeriod, build_models
from closebook.publish import publish_period
from tests.exports import account, rows, write_exports


def close_without_workbooks(con: duckdb.DuckDBPyConnection, folder, period: str) -> None:
    load_exports(con, folder)
    build_models(con, ClosePeriod.parse(period), date(2026, 12, 31))
    publish_period(con, period)


def table_contents(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"select * from main.{table} order by all").fetchall()


def test_rerunning_a_period_replaces_its_rows_and_keeps_other_periods(tmp_path):
    folder = write_exports(
        tmp_path / "exports",
        accounts=[account("A", contracted_quantity="2"), account("B")],
        usage_snapshots=[
            {
                "account_id": "A",
                "observed_at": "2026-09-10T00:00:00Z",
                "metric": "users",
                "quantity": 3,
            },
            {
                "account_id": "A",
                "observed_at": "2026-10-10T00:00:00Z",
                "metric": "users",
                "quantity": 5,
            },
            {
                "account_id": "B",
                "observed_at": "2026-10-11T00:00:00Z",
                "metric": "users",
                "quantity": 1,
            },
            {
                "account_id": "B",
                "observed_at": "2026-10-11T00:00:00Z",
                "metric": "users",
                "quantity": 9,
            },
        ],
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    close_without_workbooks(con, folder, "2026-09")
    close_without_workbooks(con, folder, "2026-10")
    # publish says how many rows it wrote per table: the period's rows now in main
    written = publish_period(con, "2026-10")
    assert written["invoices"] == 3  # A base + overage, B base
    for table, count in written.items():
        (in_main,) = con.execute(
            f"select count(*) from main.{table} where period = '2026-10'"
        ).fetchone()
        assert count == in_main, table
    first = {
        t: table_contents(con, t)
        for t in ("invoices", "invoice_lines", "hwm_usage", "rejected_rows", "load_counts")
    }
    close_without_workbooks(con, folder, "2026-10")
    second = {t: table_contents(con, t) for t in first}
    assert first == second  # same inputs, same rows, no duplicates
    periods = rows(
        con, "select period, count(*) as n from main.invoices group by period order by period"
    )
    # September: A base 2 + overage 1; October: A base + overage, B base (held: conflicting row).
    assert periods == [{"period": "2026-09", "n": 2}, {"period": "2026-10", "n": 3}]
    # each close records every rejected row of the folder under its own period
    assert rows(con, "select period, line_number from main.rejected_rows order by all") == [
        {"period": "2026-09", "line_number": 5},
        {"period": "2026-10", "line_number": 5},
    ]


def test_a_failed_publish_leaves_the_previous_results(tmp_path, monkeypatch):
    folder = write_exports(tmp_path / "exports", accounts=[account("A", contracted_quantity="2")])
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    close_without_workbooks(con, folder, "2026-10")
    before = table_contents(con, "invoices")

    write_exports(tmp_path / "exports", accounts=[account("A", contracted_quantity="7")])
    load_exports(con, folder)
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 12, 31))
    # Break the last table of the publish (sorted by name): the invoices written
    # before it must roll back with it.
    con.execute("drop table build.rejected_rows")
    try:
        publish_period(con, "2026-10")
    except duckdb.Error:
        pass
    else:  # pragma: no cover - the publish must fail for this test to mean anything
        raise AssertionError("publish should have failed")
    assert table_contents(con, "invoices") == before
