"""Replace one period's rows of every warehouse table in a single transaction.

The close computes everything in the `build` schema first; only this step
touches `main`, and it either commits the whole period or nothing (DuckDB's
transaction and write-ahead log), so a crash or a kill at any point leaves the
previous complete results of the period in place (contract §5).
"""

from __future__ import annotations

import duckdb

from closebook.models import mart_names

# Build tables published beside the marts: written by Python steps, not SQL models.
EXTRA_TABLES: tuple[str, ...] = ("validation_results",)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every build table this close publishes (the marts, plus extras that were written)."""
    extras = [t for t in EXTRA_TABLES if table_exists(con, "build", t)]
    return mart_names() + extras


def publish_period(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, int]:
    """Delete `period` from each warehouse table and insert the build rows, atomically.

    Returns rows written per table. New columns of a mart are added to the
    warehouse table first (older periods read null there).
    """
    written: dict[str, int] = {}
    tables = published_tables(con)
    con.execute("begin transaction")
    try:
        for table in tables:
            _ensure_warehouse_table(con, table)
            con.execute(f"delete from main.{table} where period = ?", [period])
            con.execute(f"insert into main.{table} by name select * from build.{table}")
            count = con.execute(f"select count(*) from build.{table}").fetchone()
            written[table] = int(count[0]) if count else 0
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return written


def _ensure_warehouse_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if not table_exists(con, "main", table):
        con.execute(f"create table main.{table} as select * from build.{table} where false")
        return
    existing = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'main' and table_name = ?",
            [table],
        ).fetchall()
    }
    for name, dtype in con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'build' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall():
        if name not in existing:
            con.execute(f'alter table main.{table} add column "{name}" {dtype}')
