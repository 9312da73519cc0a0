"""Reading the warehouse for the workbooks: one period, bound, in batches.

Every query here filters `where period = ?` with the period bound as a
parameter, and big results are streamed with `fetchmany` so a month with ten
million invoice lines never becomes one DataFrame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

BATCH_SIZE = 10_000


@dataclass(frozen=True)
class RunInfo:
    """What the close tells the workbooks about itself (shown on every Cover).

    `run_started_at` is the only wall-clock value that may appear in a
    workbook, so the same warehouse rows give the same workbook contents.
    """

    period: str
    run_started_at: dt.datetime
    as_of: dt.date
    validation_status: str = "not run"
    report_link: str | None = None
    paper: str = "letter"  # "letter" or "a4" (`--paper`)
    # GL account per journal line (closebook.toml [gl_accounts]); missing keys
    # take journal.GL_ACCOUNT_DEFAULTS.
    gl_accounts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.paper not in ("letter", "a4"):
            raise ValueError(f"paper must be letter or a4, not {self.paper!r}")


@dataclass(frozen=True)
class CoverFacts:
    """Warehouse facts every Cover shows: inputs, invoice counts, rejections."""

    input_files: list[dict[str, Any]] = field(default_factory=list)
    invoices_issued: int = 0
    invoices_held: int = 0
    rejected_rows: int = 0
    has_invoices: bool = False


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `main.<table>` exists (a close without billed_invoices has no reconciliation)."""
    row = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'main' and table_name = ? and database_name = current_database()",
        [table],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """Column names of `main.<table>` (empty when the table is missing)."""
    rows = con.execute(
        "select column_name from duckdb_columns() "
        "where schema_name = 'main' and table_name = ? and database_name = current_database()",
        [table],
    ).fetchall()
    return {name for (name,) in rows}


def count_rows(con: duckdb.DuckDBPyConnection, table: str, period: str) -> int:
    """Rows of `main.<table>` for the period (0 when the table is missing)."""
    if not table_exists(con, table):
        return 0
    row = con.execute(f"select count(*) from main.{table} where period = ?", [period]).fetchone()
    return int(row[0]) if row else 0


def stream(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]
) -> Iterator[dict[str, Any]]:
    """Rows of a query as dicts, fetched `BATCH_SIZE` at a time."""
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    while True:
        batch = cursor.fetchmany(BATCH_SIZE)
        if not batch:
            return
        for values in batch:
            yield dict(zip(names, values, strict=False))  # one value per column, always


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """A small result (totals, counts) as a list of dicts."""
    return list(stream(con, sql, params))


NO_ACCOUNT_ROW = "(not in accounts)"
NO_NAME = "(no name given)"


def account_names_sql(con: duckdb.DuckDBPyConnection) -> str:
    """A subquery (account_id, account_name) of every account the close saw; bind the period once.

    Names come from `main.accounts` (the accepted accounts rows of the close),
    not from the period's invoices: an account with no invoice this period (a
    prepaid account fully covered by its balance) still has its name. A
    warehouse without that table falls back to the invoices. Join it with
    `display_name(...)` so a missing or blank name never shows as an empty cell.
    """
    if table_exists(con, "accounts") and "account_name" in table_columns(con, "accounts"):
        return (
            "(select account_id, min(account_name) as account_name "
            "from main.accounts where period = ? group by account_id)"
        )
    if table_exists(con, "invoices") and "account_name" in table_columns(con, "invoices"):
        return (
            "(select account_id, min(account_name) as account_name "
            "from main.invoices where period = ? group by account_id)"
        )
    return (
        "(select null::varchar as account_id, null::varchar as account_name "
        "where ?::varchar is null)"
    )


def display_name(names: str, account: str) -> str:
    """SQL for the name to show: the account's name, or why there is none (never blank).

    `names` is the alias of an `account_names_sql` join, `account` the account id column.
    """
    return (
        f"case when {account} is null then null "
        f"when {names}.account_id is null then '{NO_ACCOUNT_ROW}' "
        f"when trim(coalesce({names}.account_name, '')) = '' then '{NO_NAME}' "
        f"else {names}.account_name end"
    )


def load_cover_facts(con: duckdb.DuckDBPyConnection, period: str) -> CoverFacts:
    """The period's input files with their counts, invoice counts and rejected rows."""
    files: list[dict[str, Any]] = []
    if table_exists(con, "input_files") or table_exists(con, "load_counts"):
        has_files = table_exists(con, "input_files")
        has_counts = table_exists(con, "load_counts")
        files_sql = (
            "select file, path, format, bytes, sha256 from main.input_files where period = ?"
            if has_files
            else "select null::varchar as file, null::varchar as path, null::varchar as format, "
            "null::bigint as bytes, null::varchar as sha256 where ?::varchar is null"
        )
        counts_sql = (
            "select file, rows_read, accepted, duplicates, rejected "
            "from main.load_counts where period = ?"
            if has_counts
            else "select null::varchar as file, null::bigint as rows_read, "
            "null::bigint as accepted, null::bigint as duplicates, null::bigint as rejected "
            "where ?::varchar is null"
        )
        files = fetch(
            con,
            f"""
            select coalesce(f.file, c.file) as file, f.path, f.format, f.bytes, f.sha256,
                   c.rows_read, c.accepted, c.duplicates, c.rejected
            from ({files_sql}) f
            full outer join ({counts_sql}) c on f.file = c.file
            order by coalesce(f.file, c.file), f.path
            """,
            [period, period],
        )
    issued = held = 0
    has_invoices = False
    if table_exists(con, "invoices"):
        row = con.execute(
            "select count(*) filter (where status = 'issued'), "
            "count(*) filter (where status = 'held'), count(*) "
            "from main.invoices where period = ?",
            [period],
        ).fetchone()
        assert row is not None
        issued, held, has_invoices = int(row[0]), int(row[1]), row[2] > 0
    rejected = 0
    if table_exists(con, "rejected_rows"):
        row = con.execute(
            "select count(*) from main.rejected_rows where period = ?", [period]
        ).fetchone()
        rejected = int(row[0]) if row else 0
    return CoverFacts(files, issued, held, rejected, has_invoices)


def case_collisions(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> set[str]:
    """Values of a one-column query that equal another value but for case.

    SUMIFS matches keys ignoring case; such keys are matched exactly instead
    (`sheets.keyed_total(plain=False)`).
    """
    rows = con.execute(
        f"with keys as (select distinct k from ({sql}) t(k) where k is not null) "
        "select k from keys qualify count(*) over (partition by lower(k)) > 1",
        list(params),
    ).fetchall()
    return {key for (key,) in rows}
