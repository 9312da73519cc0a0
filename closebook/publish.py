"""Replace one period's rows of every warehouse table in a single transaction.

The close computes everything in the `build` schema first; only this step
touches `main`, and it either commits the whole period or nothing (DuckDB's
transaction and write-ahead log), so a crash or a kill at any point leaves the
previous complete results of the period in place (contract §5).
"""

from __future__ import annotations

import duckdb

from closebook.models import mart_names
from closebook.warehouse_guard import ensure_schema

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

    Returns rows written per table. The warehouse's tables are checked, migrated
    from an older closebook or created first, in the same transaction
    (`closebook.warehouse_guard.ensure_schema`): a foreign table stops it unchanged.
    """
    written: dict[str, int] = {}
    tables = published_tables(con)
    con.execute("begin transaction")
    try:
        ensure_schema(con)
        for table in tables:
            _keep_previous(con, table, period)
            written[table] = _replace_period(con, table, period)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return written


def _replace_period(con: duckdb.DuckDBPyConnection, table: str, period: str) -> int:
    """One table's share of the transaction: its period's rows replaced by the build's.

    Returns the rows inserted, as the insert reports them (no second read of the table)."""
    con.execute(f"delete from main.{table} where period = ?", [period])
    ((inserted,),) = con.execute(
        f"insert into main.{table} by name select * from build.{table}"
    ).fetchall()
    return int(inserted)


def _keep_previous(con: duckdb.DuckDBPyConnection, table: str, period: str) -> None:
    """`build.previous_<table>`: the period's rows as they were before this publish, so
    that a close whose workbooks then fail can put them back (`restore_previous`)."""
    con.execute(
        f"create or replace table build.previous_{table} as "
        f"select * from main.{table} where period = ?",
        [period],
    )


def restore_previous(con: duckdb.DuckDBPyConnection, period: str) -> None:
    """Undo `publish_period` for `period`, in one transaction: every published table gets
    back the rows it had before (none, for a period closed for the first time)."""
    tables = [t for t in published_tables(con) if table_exists(con, "build", f"previous_{t}")]
    con.execute("begin transaction")
    try:
        for table in tables:
            con.execute(f"delete from main.{table} where period = ?", [period])
            con.execute(f"insert into main.{table} by name select * from build.previous_{table}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
