"""Load an export folder into DuckDB as text, keeping every row and its line number.

Everything is read as VARCHAR on purpose: typing happens in the staging SQL
models with `try_cast`, so a value that does not parse becomes a rejected row
with a reason instead of an error that stops the close (CONTRACT.md §4). Only
what makes a whole file unusable (missing, unreadable, a missing column, both
CSV and Parquet given) stops the close, with a one-line `LoadError`.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flows.contract import INPUT_TABLES, InputTable


class LoadError(Exception):
    """The export folder cannot be closed as given; the message is one line naming the file."""


@dataclass(frozen=True)
class InputFile:
    """One export file found in the input folder, with its fingerprint for the cover sheets."""

    table: str
    path: Path
    format: str
    bytes: int
    sha256: str

    @property
    def file_name(self) -> str:
        return self.path.name


# DuckDB's CSV reader names these error kinds; we say them the way finance would.
_UNREADABLE_REASONS = {
    "INVALID ENCODING": "the row is not valid UTF-8 text",
    "MISSING COLUMNS": "the row has fewer fields than the header",
    "TOO MANY COLUMNS": "the row has more fields than the header",
    "UNQUOTED VALUE": "a quote character is misplaced in the row",
    "LINE SIZE OVER MAXIMUM": "the row is longer than the reader allows",
    "CAST": "a value could not be read",
}


def find_input_files(input_dir: Path) -> dict[str, Path | None]:
    """Map each contract table to its file, or None for an absent optional table."""
    if not input_dir.is_dir():
        raise LoadError(f"input folder {input_dir} does not exist")
    found: dict[str, Path | None] = {}
    for table in INPUT_TABLES:
        csv_path = input_dir / f"{table.name}.csv"
        parquet_path = input_dir / f"{table.name}.parquet"
        if csv_path.exists() and parquet_path.exists():
            raise LoadError(
                f"{table.name} is given both as {csv_path.name} and {parquet_path.name}; "
                "keep one"
            )
        path = csv_path if csv_path.exists() else parquet_path if parquet_path.exists() else None
        if path is None and table.required_file:
            raise LoadError(f"missing input file: {table.name}.csv (or .parquet) in {input_dir}")
        found[table.name] = path
    return found


def load_exports(con: duckdb.DuckDBPyConnection, input_dir: Path) -> list[InputFile]:
    """Read every contract file of `input_dir` into `build.raw_<table>` (all text).

    Also fills `build.raw_unreadable_rows` (rows the CSV reader could not split)
    and `build.input_files`. Nothing outside the `build` schema is touched, so
    a failure here leaves every closed period as it was.
    """
    paths = find_input_files(input_dir)
    con.execute("create schema if not exists build")
    con.execute(
        "create or replace table build.raw_unreadable_rows "
        "(source_table varchar, line_number bigint, reason varchar, raw_text varchar)"
    )
    loaded: list[InputFile] = []
    for table in INPUT_TABLES:
        path = paths[table.name]
        if path is None:
            _create_empty_raw(con, table)
            continue
        if path.suffix == ".csv":
            _load_csv(con, table, path)
        else:
            _load_parquet(con, table, path)
        loaded.append(_fingerprint(table.name, path))
    con.execute(
        "create or replace table build.input_files (source_table varchar, file varchar, "
        "path varchar, format varchar, bytes bigint, sha256 varchar)"
    )
    con.executemany(
        "insert into build.input_files values (?, ?, ?, ?, ?, ?)",
        [[f.table, f.file_name, str(f.path), f.format, f.bytes, f.sha256] for f in loaded],
    )
    return loaded


def _fingerprint(table: str, path: Path) -> InputFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return InputFile(table, path, path.suffix.lstrip("."), path.stat().st_size, digest.hexdigest())


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_field(expr: str) -> str:
    """SQL that renders one value as an RFC 4180 field (quoted only when it must be)."""
    return (
        f"case when {expr} is null then '' "
        f"when regexp_matches({expr}, '[,\"\\r\\n]') "
        f"then '\"' || replace({expr}, '\"', '\"\"') || '\"' else {expr} end"
    )


def _match_columns(table: InputTable, file_name: str, source_columns: list[str]) -> dict[str, str]:
    """Map contract column -> source column (case and surrounding spaces ignored)."""
    by_normal: dict[str, str] = {}
    for column in source_columns:
        normal = column.strip().lower()
        if normal in by_normal:
            raise LoadError(f"{file_name}: column '{normal}' appears twice in the header")
        by_normal[normal] = column
    for column in table.required_columns:
        if column not in by_normal:
            raise LoadError(f"{file_name}: missing required column '{column}'")
    return {c: by_normal[c] for c in table.columns if c in by_normal}


def _create_raw_table(
    con: duckdb.DuckDBPyConnection,
    table: InputTable,
    source_sql: str,
    source_columns: list[str],
    mapping: dict[str, str],
    line_number_sql: str,
) -> None:
    selected = [
        f"cast({_quote_ident(mapping[c])} as varchar) as {c}"
        if c in mapping
        else f"cast(null as varchar) as {c}"
        for c in table.columns
    ]
    raw_text = " || ',' || ".join(
        _csv_field(f"cast({_quote_ident(c)} as varchar)") for c in source_columns
    )
    con.execute(
        f"create or replace table build.raw_{table.name} as "
        f"select {', '.join(selected)}, {line_number_sql} as line_number, "
        f"{raw_text} as raw_text from ({source_sql}) as src"
    )


def _create_empty_raw(con: duckdb.DuckDBPyConnection, table: InputTable) -> None:
    columns = ", ".join(f"{c} varchar" for c in table.columns)
    con.execute(
        f"create or replace table build.raw_{table.name} "
        f"({columns}, line_number bigint, raw_text varchar)"
    )


def _describe_columns(con: duckdb.DuckDBPyConnection, source_sql: str, file_name: str) -> list[str]:
    try:
        return [row[0] for row in con.execute(f"describe {source_sql}").fetchall()]
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise LoadError(f"{file_name}: cannot read the file ({first_line})") from None


def _read_csv_header(path: Path) -> list[str]:
    """The header row, read with Python's csv module so that a bad data row can
    never stop DuckDB's dialect sniffer from reading a good file."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: the file is empty (no header row)")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise LoadError(f"{path.name}: the header row is not valid UTF-8 text") from None
    if not header or all(not name.strip() for name in header):
        raise LoadError(f"{path.name}: the first line is not a header row")
    return [name if name.strip() else f"unnamed_column_{i + 1}" for i, name in enumerate(header)]


def _load_csv(con: duckdb.DuckDBPyConnection, table: InputTable, path: Path) -> None:
    rejects = f"rejects_{table.name}"
    columns = _read_csv_header(path)
    mapping = _match_columns(table, path.name, columns)
    column_types = ", ".join(f"{_quote_literal(c)}: 'VARCHAR'" for c in columns)
    options = (
        "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"encoding = 'utf-8', columns = {{{column_types}}}"
    )
    mapping = _match_columns(table, path.name, columns)
    con.execute(f"drop table if exists {rejects}")
    con.execute(f"drop table if exists {rejects}_scan")
    con.execute(
        f"create or replace temp table csv_rows as "
        f"select * from read_csv({_quote_literal(str(path))}, {options}, "
        f"store_rejects = true, rejects_table = '{rejects}', "
        f"rejects_scan = '{rejects}_scan')"
    )
    # The reader skips rows it cannot split; every other row keeps its place, so
    # the k-th good row sits on the k-th line number not taken by a skipped row.
    con.execute(
        f"create or replace temp table csv_bad_lines as "
        f"select line as line_number, "
        f"string_agg(distinct cast(error_type as varchar), ',') as error_types, "
        f"any_value(csv_line) as raw_text "
        f"from {rejects} group by line"
    )
    con.execute(
        """
        create or replace temp table csv_good_lines as
        with all_lines as (
            select range as line_number
            from range(2, 2 + (select count(*) from csv_rows)
                          + (select count(*) from csv_bad_lines))
        )
        select line_number, row_number() over (order by line_number) - 1 as row_index
        from all_lines
        where line_number not in (select line_number from csv_bad_lines)
        """
    )
    source_sql = (
        "select r.*, g.line_number as __line_number "
        "from (select *, rowid as __row_index from csv_rows) as r "
        "join csv_good_lines as g on g.row_index = r.__row_index"
    )
    _create_raw_table(con, table, source_sql, columns, mapping, "__line_number")
    reasons = " ".join(
        f"when error_types like '%{kind}%' then '{text}'"
        for kind, text in _UNREADABLE_REASONS.items()
    )
    con.execute(
        f"insert into build.raw_unreadable_rows "
        f"select {_quote_literal(table.name)}, line_number, "
        f"case {reasons} else 'the row cannot be read as CSV' end, raw_text "
        f"from csv_bad_lines order by line_number"
    )
    for temp in ("csv_rows", "csv_bad_lines", "csv_good_lines", rejects, f"{rejects}_scan"):
        con.execute(f"drop table if exists {temp}")


def _load_parquet(con: duckdb.DuckDBPyConnection, table: InputTable, path: Path) -> None:
    source_sql = f"select * from read_parquet({_quote_literal(str(path))}, file_row_number = true)"
    columns = [c for c in _describe_columns(con, source_sql, path.name) if c != "file_row_number"]
    mapping = _match_columns(table, path.name, columns)
    _create_raw_table(con, table, source_sql, columns, mapping, "file_row_number + 1")
