"""Load an export folder into DuckDB as text, keeping every row and its line number.

Everything is read as VARCHAR on purpose: typing happens in SQL with `try_cast`,
so a value that does not parse becomes a rejected row with a reason instead of
an error that stops the close (billing-rules §4). The staging models type every
file but one: the usage snapshots (10M rows at 100k accounts) are typed here, as
they are read, by the models' own macros, so their rows are written once
(`TYPED_AT_LOAD`); their texts are still all kept, exactly as written. Only
what makes a whole file unusable (missing, unreadable, a missing column, both
CSV and Parquet given) stops the close, with a one-line `LoadError`.

Line numbers are the row numbers a spreadsheet shows: the header is line 1
and each record is one line, so a quoted newline inside a field does not
start a new line, and a blank line still takes its number (it is not a row,
so it is neither read nor rejected). DuckDB's rejects table numbers records
the same way (its `line` counts records, blank ones included), which the
loader relies on; good rows are numbered by the lines left over, so the
blank lines DuckDB skips silently are found with Python's csv module when
the file has any. Parquet: row 1 is the first row. Encodings: UTF-8, with or
without a byte-order mark; a row holding bytes that are not UTF-8 (Latin-1
from an old export, say) is rejected on its own line and the other rows load.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from closebook.contract import INPUT_TABLES, InputTable
from closebook.models import create_temp_macros


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


@dataclass(frozen=True)
class TypedColumn:
    """A text column the load also stores typed, parsed by the models' own macro.

    The usage snapshots are 10M rows at 100k accounts: stored as text and then typed
    by the staging model, they were written twice (issue 13). Instead the load writes
    each row once: the typed value (`typed_name`), and the text as written only when
    it is not the typed value's standard rendering (`text_name`; the usual
    `2026-10-05T12:00:00Z` or `35` is not stored twice). The raw view puts the text
    back as `coalesce(text_name, render(typed_name))`, so every row's text is still
    exactly as written (billing-rules §4: nothing is lost), and a text that did not
    parse is always kept (its typed value is null).
    """

    name: str
    typed_name: str
    sql_type: str
    parse: str  # SQL with {} for the text
    render: str  # SQL with {} for the typed value: the text it stands for

    @property
    def text_name(self) -> str:
        return f"{self.name}_text"

    def parsed(self, text: str) -> str:
        return self.parse.format(text)

    def rendered(self, typed: str) -> str:
        return self.render.format(typed)


TYPED_AT_LOAD: dict[str, tuple[TypedColumn, ...]] = {
    "usage_snapshots": (
        TypedColumn(
            "observed_at",
            "observed_at_utc",
            "TIMESTAMP",
            "parse_utc({})",
            "strftime({}, '%Y-%m-%dT%H:%M:%SZ')",
        ),
        TypedColumn(
            "quantity", "quantity_count", "BIGINT", "parse_count({})", "cast({} as varchar)"
        ),
    ),
}


def _stored_columns(table: InputTable, names: list[str]) -> list[tuple[str, str]]:
    """The columns of `build.raw_<table>_rows` (name, type): the raw text columns `names`,
    a typed column's text replaced by its typed value and its kept text."""
    typed = {c.name: c for c in TYPED_AT_LOAD.get(table.name, ())}
    kept = [(n, "VARCHAR") for n in names if n not in typed]
    return [
        *kept,
        *((c.typed_name, c.sql_type) for c in typed.values()),
        *((c.text_name, "VARCHAR") for c in typed.values()),
    ]


def _stored_select(table: InputTable, source_sql: str) -> str:
    """Select the stored columns from `source_sql`, which has the raw text columns.

    A subquery parses each typed text once; the outer select keeps the text only where
    the typed value does not render back to it.
    """
    typed = TYPED_AT_LOAD.get(table.name, ())
    if not typed:
        return f"select * from ({source_sql}) as src"
    texts = ", ".join(c.name for c in typed)
    parsed = ", ".join(f"{c.parsed(c.name)} as {c.typed_name}" for c in typed)
    kept = ", ".join(
        f"case when {c.rendered(c.typed_name)} is distinct from {c.name} then {c.name} end "
        f"as {c.text_name}"
        for c in typed
    )
    return (
        f"select * exclude ({texts}), {kept} "
        f"from (select *, {parsed} from ({source_sql}) as src) as typed"
    )


def _raw_view_select(table: InputTable, names: list[str]) -> str:
    """The raw view's select list over the stored columns: every raw text column in
    its place (a typed one put back from its typed value or kept text), then the typed
    values and kept texts, then the line number."""
    typed = {c.name: c for c in TYPED_AT_LOAD.get(table.name, ())}
    if not typed:
        return "*"
    columns = [
        f"coalesce({typed[n].text_name}, {typed[n].rendered(typed[n].typed_name)}) as {n}"
        if n in typed
        else n
        for n in names
    ]
    columns += [c.typed_name for c in typed.values()] + [c.text_name for c in typed.values()]
    return ", ".join([*columns, "line_number"])


# DuckDB's CSV reader names these error kinds; we say them the way finance would.
_UNREADABLE_REASONS = {
    "INVALID ENCODING": "the row has characters that are not UTF-8 (shown as \ufffd); "
    "save the export as UTF-8",
    "MISSING COLUMNS": "the row has fewer fields than the header",
    "TOO MANY COLUMNS": "the row has more fields than the header",
    "UNQUOTED VALUE": "a quote character is misplaced in the row",
    "LINE SIZE OVER MAXIMUM": "the row is longer than the reader allows (2 MB); "
    "shorten its longest field",
    "CAST": "a value could not be read",
}


def find_input_files(input_dir: Path) -> dict[str, Path | None]:
    """Map each contract table to its file, or None for an absent optional table."""
    try:
        return _find_input_files(input_dir)
    except OSError as error:
        raise LoadError(
            f"cannot read input folder {input_dir} ({error.strerror or error}); "
            "check that it exists and that this user may read it"
        ) from None


def _find_input_files(input_dir: Path) -> dict[str, Path | None]:
    if not input_dir.is_dir():
        raise LoadError(f"input folder {input_dir} does not exist")
    found: dict[str, Path | None] = {}
    for table in INPUT_TABLES:
        csv_path = input_dir / f"{table.name}.csv"
        parquet_path = input_dir / f"{table.name}.parquet"
        for path in (csv_path, parquet_path):
            if path.exists() and not path.is_file():
                # A folder, FIFO or device under an export's name: reading it would fail
                # with a raw OS error, or (a FIFO) wait forever.
                raise LoadError(
                    f"{path.name} in {input_dir} is not a regular file; "
                    "replace it with the exported file"
                )
        if csv_path.exists() and parquet_path.exists():
            raise LoadError(
                f"{table.name} is given both as {csv_path.name} and {parquet_path.name}; keep one"
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
        "create or replace table build.raw_unreadable_rows (source_table varchar, "
        "line_number bigint, reason varchar, raw_text varchar, account_id varchar)"
    )
    for table in INPUT_TABLES:
        if paths[table.name] is None:
            _create_empty_raw(con, table)
    given = [(table, path) for table in INPUT_TABLES if (path := paths[table.name]) is not None]
    # Two files at a time, the largest first, each on its own cursor: the usage
    # snapshots keep DuckDB's threads busy while the small files load beside them.
    # Every file is loaded (or fails) before the first failure in contract order stops
    # the close, so which error is shown does not depend on timing.
    largest_first = sorted(given, key=lambda item: -_size(item[1]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        loads = {
            table.name: pool.submit(_load_file, con, table, path) for table, path in largest_first
        }
        loaded = [loads[table.name].result() for table, _ in given]
    con.execute(
        "create or replace table build.input_files (source_table varchar, file varchar, "
        "path varchar, format varchar, bytes bigint, sha256 varchar)"
    )
    con.executemany(
        "insert into build.input_files values (?, ?, ?, ?, ?, ?)",
        [[f.table, f.file_name, str(f.path), f.format, f.bytes, f.sha256] for f in loaded],
    )
    return loaded


def _load_file(con: duckdb.DuckDBPyConnection, table: InputTable, path: Path) -> InputFile:
    """Load one export on a cursor of its own (called from the load's thread pool)."""
    cursor = con.cursor()
    try:
        if table.name in TYPED_AT_LOAD:
            create_temp_macros(cursor)
        if path.suffix == ".csv":
            sha256 = _load_csv(cursor, table, path)
        else:
            _load_parquet(cursor, table, path)
            sha256 = _sha256(path)
        return InputFile(table.name, path, path.suffix.lstrip("."), path.stat().st_size, sha256)
    except OSError as error:
        raise LoadError(
            f"{path.name}: cannot be read ({error.strerror or error}); "
            "check the file's permissions and that it is still there"
        ) from None
    except duckdb.Error as error:
        # Every deterministic load failure is a LoadError (one line, never retried
        # into the same answer); DuckDB's own text stays as the detail.
        raise LoadError(f"{path.name}: cannot be loaded ({_first_line(error)})") from None
    finally:
        cursor.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it will say what is wrong


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal_path(path: Path) -> str:
    """`path` as a DuckDB reader argument that names exactly that one file.

    DuckDB's readers expand `*`, `?`, `[...]` and `**` in a path and `~` at its start,
    so `/exports/ex[1]` would read a sibling `ex1` and `*` every matching sibling
    (issue 12). The path is made absolute (no `~`, no `scheme://` reading) and each
    glob character is put in a one-character class (`[` -> `[[]`), which DuckDB's
    matcher reads as that character; `]` alone is literal.
    """
    text = str(path.absolute())
    return "".join(f"[{c}]" if c in "[*?" else c for c in text)


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


def _raw_select_list(
    table: InputTable,
    source_columns: list[str],
    mapping: dict[str, str],
    column_types: dict[str, str] | None = None,
) -> str:
    """The select list that turns a source's columns into the raw table's: the contract's
    columns in the contract's order (null when the file has none), then the file's extra
    columns as extra_1, extra_2, ... (kept for the row's raw text), all as text."""

    def as_text(column: str) -> str:
        ident = _quote_ident(column)
        if (column_types or {}).get(column, "").upper().startswith("TIMESTAMP WITH TIME ZONE"):
            # An instant: written in UTC with its Z, whatever the session's time zone.
            return f"strftime(timezone('UTC', {ident}), '%Y-%m-%dT%H:%M:%S.%fZ')"
        # An empty string is blank, as an empty CSV field is null: Parquet exports write
        # '' for blanks, and the contract's defaults must apply the same (issue 12).
        return f"nullif(cast({ident} as varchar), '')"

    canonical = {source: name for name, source in mapping.items()}
    extras = [c for c in source_columns if c not in canonical]
    selected = [
        f"{as_text(mapping[c])} as {c}" if c in mapping else f"cast(null as varchar) as {c}"
        for c in table.columns
    ] + [f"{as_text(c)} as extra_{i}" for i, c in enumerate(extras, start=1)]
    return ", ".join(selected)


def _raw_column_names(
    table: InputTable, source_columns: list[str], mapping: dict[str, str]
) -> list[str]:
    """The raw table's columns, as `_raw_select_list` names them."""
    extras = len(source_columns) - len(mapping)
    return [*table.columns, *(f"extra_{i}" for i in range(1, extras + 1))]


def _create_raw_views(
    con: duckdb.DuckDBPyConnection,
    table: InputTable,
    source_columns: list[str],
    mapping: dict[str, str],
    rows_sql: str,
) -> None:
    """`build.raw_<table>` (every row, with its line number) and `build.raw_<table>_text`.

    rows_sql selects from `build.raw_<table>_rows` (the stored rows) and adds the
    `line_number` column. A view, so that a 10M-row file is written once: a CSV export's
    line numbers follow from each row's place in the stored table (see `_load_csv`).
    """
    _drop_table_named(con, f"raw_{table.name}")
    names = _raw_column_names(table, source_columns, mapping)
    con.execute(
        f"create or replace view build.raw_{table.name} as "
        f"select {_raw_view_select(table, names)} from ({rows_sql}) as stored"
    )
    # The row as written (every column, in the file's order), rendered on demand: a
    # view, so a 10M-row load pays for the text of the rejected rows only.
    canonical = {source: name for name, source in mapping.items()}
    extras = [c for c in source_columns if c not in canonical]
    stored = {**canonical, **{c: f"extra_{i}" for i, c in enumerate(extras, start=1)}}
    raw_text = " || ',' || ".join(_csv_field(_quote_ident(stored[c])) for c in source_columns)
    con.execute(
        f"create or replace view build.raw_{table.name}_text as "
        f"select line_number, {raw_text} as raw_text from build.raw_{table.name}"
    )


def _drop_table_named(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop `build.<name>` when it is a table (a warehouse of an earlier closebook kept
    the raw rows as tables where they are now views)."""
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'build' and table_name = ?",
        [name],
    ).fetchone()
    if found and found[0]:
        con.execute(f"drop table build.{name}")


def _create_empty_raw(con: duckdb.DuckDBPyConnection, table: InputTable) -> None:
    stored = _stored_columns(table, list(table.columns))
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in stored)
    con.execute(
        f"create or replace table build.raw_{table.name}_rows ({columns}, line_number bigint)"
    )
    _drop_table_named(con, f"raw_{table.name}")
    con.execute(
        f"create or replace view build.raw_{table.name} as "
        f"select {_raw_view_select(table, list(table.columns))} "
        f"from build.raw_{table.name}_rows"
    )
    con.execute(
        f"create or replace view build.raw_{table.name}_text as select line_number, "
        f"cast(null as varchar) as raw_text from build.raw_{table.name}"
    )


def _describe_columns(
    con: duckdb.DuckDBPyConnection, source_sql: str, file_name: str
) -> dict[str, str]:
    try:
        return {row[0]: row[1] for row in con.execute(f"describe {source_sql}").fetchall()}
    except duckdb.Error as error:
        raise LoadError(f"{file_name}: cannot read the file ({_first_line(error)})") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_HEADER_BYTES = 1 << 24


def _decoded_lines(path: Path) -> Iterator[str]:
    """The first lines of the file (CR, LF or CRLF), each decoded on its own: only the
    lines a caller actually reads must be UTF-8 (the header), so a bad byte in a data
    row never fails the file."""
    with path.open("rb") as handle:
        data = handle.read(_HEADER_BYTES)
        complete = len(data) < _HEADER_BYTES
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.splitlines(keepends=True)
    if not complete and lines:
        lines.pop()  # cut mid-line
    for line in lines:
        yield line.decode("utf-8")


def _read_csv_header(path: Path) -> list[str]:
    """The header row, read with Python's csv module so that a bad data row can
    never stop DuckDB's dialect sniffer from reading a good file."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: the file is empty (no header row)")
    try:
        header = next(csv.reader(_decoded_lines(path)), None)
    except UnicodeDecodeError:
        raise LoadError(f"{path.name} line 1: the header row is not valid UTF-8 text") from None
    except csv.Error as error:
        raise LoadError(f"{path.name} line 1: the header row cannot be read ({error})") from None
    if not header or all(not name.strip() for name in header):
        raise LoadError(f"{path.name} line 1: the first line is not a header row")
    return [name if name.strip() else f"unnamed_column_{i + 1}" for i, name in enumerate(header)]


@dataclass(frozen=True)
class _CsvBytes:
    """What one read of a CSV file's bytes says: its fingerprint, its line breaks, and
    whether the slower line-ending checks are needed at all (the usual LF export needs
    none)."""

    sha256: str
    bare_cr: bool  # a CR not followed by an LF, anywhere (quotes not yet considered)
    has_lf: bool
    # LFs (CRs in a file without any LF): one per record, blank line and line break
    # inside quotes; with `ends_with_break`, how many lines the file has
    line_breaks: int
    ends_with_break: bool

    def lines_after_header(self) -> int:
        """Physical lines after the header: the records, when no record spans two lines
        and no line is blank (`_load_csv` compares it with what the reader found)."""
        return self.line_breaks + (0 if self.ends_with_break else 1) - 1


_CHUNK_BYTES = 1 << 24


def _scan_csv_bytes(path: Path) -> _CsvBytes:
    """One pass at C speed, 16 MiB at a time: the SHA-256 for the cover sheets, the line
    breaks and bare CRs. A chunk without a CR costs a hash and a count of its LFs (issue
    13: the file was read three times, and searched for blank-line marks, before DuckDB
    read it); `_load_csv` runs this beside DuckDB's own read of the file."""
    digest = hashlib.sha256()
    bare = False
    lf = cr = 0
    last = b""
    carry = b""  # a CR that ended the previous chunk: its LF may start this one
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
            lf += chunk.count(b"\n")
            has_cr = b"\r" in chunk
            cr += chunk.count(b"\r") if has_cr else 0
            last = chunk[-1:]
            if bare or (not carry and not has_cr):
                carry = b""
                continue
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            data = data[: len(data) - len(carry)]
            bare = data.count(b"\r") != data.count(b"\r\n")
    return _CsvBytes(
        digest.hexdigest(),
        bare or bool(carry),
        lf > 0,
        lf if lf else cr,
        last in (b"\n", b"\r"),
    )


def _scan_records(path: Path, wanted: set[int]) -> tuple[set[int], dict[int, str]]:
    """Walk the file's records with Python's csv module (same quoting rules as DuckDB's
    reader): the line numbers of blank lines, and the text of the `wanted` lines.

    The file is decoded as Latin-1, which never fails and keeps every structural byte
    (quote, comma, CR, LF) where it is; a wanted line's fields are turned back into
    UTF-8 text with the bytes that are not UTF-8 shown as U+FFFD.
    """
    blank: set[int] = set()
    texts: dict[int, str] = {}
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(encoding="latin-1", newline="") as handle:
            for line_number, fields in enumerate(csv.reader(handle, strict=False), start=1):
                if line_number == 1:
                    continue
                if not fields:
                    blank.add(line_number)
                elif line_number in wanted:
                    rendered = ",".join(_render_field(f) for f in fields)
                    texts[line_number] = rendered.encode("latin-1").decode(
                        "utf-8", errors="replace"
                    )
    except csv.Error:
        pass  # a record Python cannot split either: keep what was found before it
    finally:
        csv.field_size_limit(limit)
    return blank, texts


def _unreadable_csv_message(path: Path, error: duckdb.Error) -> str:
    """One line for a CSV file DuckDB's reader gives up on as a whole.

    Its strict mode (kept on: off, it would silently cut extra fields and repair
    quotes) cannot read a file whose line breaks are mixed, a bare CR in a file of
    LF (or CRLF) lines; we say so, since re-saving the file fixes it.
    """
    data = path.read_bytes()
    bare_cr = data.replace(b"\r\n", b"").count(b"\r")
    if bare_cr and b"\n" in data:
        line = data[: data.replace(b"\r\n", b"\n\n").index(b"\r")].count(b"\n") + 1
        return (
            f"{path.name} line {line}: the file mixes line breaks (a bare CR among LF line "
            "ends); save it again with one kind of line ending"
        )
    return f"{path.name}: cannot be read as CSV ({_first_line(error)})"


def _bare_cr_line(path: Path) -> int:
    """The line of the first bare CR (not part of a CRLF) outside quotes, in a file that
    `_scan_csv_bytes` found to have LF line ends and a bare CR; 0 when every bare CR
    is inside quotes.

    DuckDB's reader splits a row at some of these (a CR right after a line end is
    silently taken as part of it), so the mixed file is stopped before it is read.
    """
    unquoted = re.sub(rb'"[^"]*"', b"", path.read_bytes())
    found = re.search(rb"\r(?!\n)", unquoted)
    return unquoted[: found.start()].count(b"\n") + 1 if found else 0


def _render_field(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _load_csv(con: duckdb.DuckDBPyConnection, table: InputTable, path: Path) -> str:
    """Read one CSV export into `build.raw_<table>`; returns the file's SHA-256.

    DuckDB reads the file straight into `build.raw_<table>_rows` (one write of every
    row, no copy in memory first) while a thread hashes and counts its bytes (hashing
    releases the GIL, so both cores work). The reader keeps the file's row order, so a
    row's place in that table gives its line number (`_line_numbers_sql`).
    """
    columns = _read_csv_header(path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_scan_csv_bytes, path)
        try:
            mapping = _match_columns(table, path.name, columns)
            _read_csv_rows(con, table, path, columns, mapping)
        except (LoadError, duckdb.Error) as error:
            _stop_if_mixed_line_breaks(path, scanning.result())
            if isinstance(error, LoadError):
                raise
            raise LoadError(_unreadable_csv_message(path, error)) from None
        scan = scanning.result()
    _stop_if_mixed_line_breaks(path, scan)
    # The reader skips rows it cannot split and blank lines; every other row keeps its
    # place, so the k-th good row sits on the k-th line number not taken by either.
    rejects = f"rejects_{table.name}"
    con.execute(
        f"create or replace temp table csv_bad_lines as "
        f"select line as line_number, "
        f"string_agg(distinct cast(error_type as varchar), ',') as error_types, "
        f"any_value(ltrim(csv_line, chr(13) || chr(10))) as raw_text "
        f"from {rejects} group by line"
    )
    bad_lines = {
        int(line): kinds
        for line, kinds in con.execute(
            "select line_number, error_types from csv_bad_lines"
        ).fetchall()
    }
    undecodable = {line for line, kinds in bad_lines.items() if "INVALID ENCODING" in kinds}
    rows = con.execute(f"select count(*) - 2 from build.raw_{table.name}_rows").fetchone()
    # Every line after the header is a record read or rejected, unless a line is blank
    # or a record spans lines (a quoted line break): only then are the lines walked.
    one_line_records = (rows[0] if rows else 0) + len(bad_lines) == scan.lines_after_header()
    blank: set[int] = set()
    if undecodable or not one_line_records:
        blank, texts = _scan_records(path, undecodable)
        blank -= set(bad_lines)
        for line, text in texts.items():
            con.execute("update csv_bad_lines set raw_text = ? where line_number = ?", [text, line])
    con.execute("create or replace temp table csv_blank_lines (line_number bigint)")
    if blank:
        con.executemany(
            "insert into csv_blank_lines values (?)", [[line] for line in sorted(blank)]
        )
    _create_raw_views(
        con, table, columns, mapping, _line_numbers_sql(con, table, bool(bad_lines or blank))
    )
    reasons = " ".join(
        f"when error_types like '%{kind}%' then '{text}'"
        for kind, text in _UNREADABLE_REASONS.items()
    )
    con.execute(
        f"insert into build.raw_unreadable_rows "
        f"select {_quote_literal(table.name)}, line_number, "
        f"case {reasons} else 'the row cannot be read as CSV' end, raw_text, "
        f"{_unreadable_account_sql(columns, mapping)} "
        f"from csv_bad_lines order by line_number"
    )
    for temp in ("csv_bad_lines", "csv_blank_lines", rejects, f"{rejects}_scan"):
        con.execute(f"drop table if exists {temp}")
    return scan.sha256


def _read_csv_rows(
    con: duckdb.DuckDBPyConnection,
    table: InputTable,
    path: Path,
    columns: list[str],
    mapping: dict[str, str],
) -> None:
    """`build.raw_<table>_rows`: every row DuckDB's reader could split, in file order,
    as text; the rows it could not split go to the temp table `rejects_<table>`.

    Rows 0 and 1 of the table are blank and stand for the lines before the first record
    (line 1 is the header), so that each record's rowid is its line number in a clean
    file: a lookup of a few lines by number (the rejected rows' raw text) then reads
    those rows only, as DuckDB filters a scan on its rowid.
    """
    rows, rejects = f"build.raw_{table.name}_rows", f"rejects_{table.name}"
    stored = _stored_columns(table, _raw_column_names(table, columns, mapping))
    blank = ", ".join("null" for _ in stored)
    column_types = ", ".join(f"{_quote_literal(c)}: 'VARCHAR'" for c in columns)
    options = (
        "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"encoding = 'utf-8', columns = {{{column_types}}}"
    )
    con.execute(f"drop table if exists {rejects}")
    con.execute(f"drop table if exists {rejects}_scan")
    # One transaction, as a CREATE TABLE AS would be: the rows are written straight to
    # the file, not first logged and then checkpointed.
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace table {rows} "
            f"({', '.join(f'{name} {sql_type}' for name, sql_type in stored)})"
        )
        con.execute(f"insert into {rows} values ({blank}), ({blank})")
        source = (
            f"select {_raw_select_list(table, columns, mapping)} "
            f"from read_csv({_quote_literal(literal_path(path))}, {options}, "
            f"store_rejects = true, rejects_table = '{rejects}', "
            f"rejects_scan = '{rejects}_scan')"
        )
        con.execute(f"insert into {rows} by name {_stored_select(table, source)}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _stop_if_mixed_line_breaks(path: Path, scan: _CsvBytes) -> None:
    cr_line = _bare_cr_line(path) if scan.bare_cr and scan.has_lf else 0
    if cr_line:
        raise LoadError(
            f"{path.name} line {cr_line}: the file mixes line breaks (a bare CR among LF "
            "line ends); save it again with one kind of line ending"
        )


def _line_numbers_sql(con: duckdb.DuckDBPyConnection, table: InputTable, skipped: bool) -> str:
    """The records of `build.raw_<table>_rows` with their line numbers, in file order.

    The stored rows keep the file's order (the load keeps insertion order, and the
    table is written once and never changed), so in the usual clean file a record's
    rowid is its line number (`_read_csv_rows`): no copy. When the reader skipped lines
    (unreadable or blank), the records are numbered once into a new table that keeps
    the number.
    """
    rows = f"build.raw_{table.name}_rows"
    if not skipped:
        return f"select *, rowid as line_number from {rows} where rowid >= 2"
    _skipped_line_offsets(con)
    con.execute(
        f"create or replace table build.raw_{table.name}_numbered as "
        "select r.* exclude (__row_index), "
        "r.__row_index + 2 + coalesce(s.skipped, 0) as line_number "
        f"from (select *, rowid - 2 as __row_index from {rows} where rowid >= 2) as r "
        "asof left join csv_skips as s on r.__row_index >= s.good_rows_before "
        "order by r.__row_index"
    )
    con.execute(f"drop table {rows}")
    con.execute(f"alter table build.raw_{table.name}_numbered rename to raw_{table.name}_rows")
    con.execute("drop table csv_skips")
    return f"select * from {rows}"


def _unreadable_account_sql(columns: list[str], mapping: dict[str, str]) -> str:
    """SQL for the account_id of a row the reader could not split, when its text shows it.

    So that a row too long for the reader (or with a field too many) still names its
    account: its invoices are held, and an unreadable `accounts` row is that account's
    own rejected row, not an "unknown account" for every other row it has (issue 12).
    Taken only when every field up to it is unquoted and a comma follows it (a field cut
    off by the reader is never taken); otherwise null, as before. Set-based: a file
    of bad rows costs one regular expression per row, in DuckDB.
    """
    if "account_id" not in mapping:
        return "cast(null as varchar)"
    index = columns.index(mapping["account_id"])
    field = '[^,"\\r\\n]*'
    pattern = f"^(?:{field},){{{index}}}({field}),"
    return f"nullif(trim(regexp_extract(raw_text, {_quote_literal(pattern)}, 1)), '')"


def _skipped_line_offsets(con: duckdb.DuckDBPyConnection) -> None:
    """`csv_skips`: for the lines the reader skipped (unreadable or blank), how many good
    rows come before each and how many lines were skipped up to it.

    Good row k (from 0) then sits on line k + 2 + (lines skipped before it): an ASOF
    join on `good_rows_before <= k` finds that count without a join over every line.
    """
    con.execute(
        """
        create or replace temp table csv_skips as
        with skipped as (
            select line_number from csv_bad_lines
            union
            select line_number from csv_blank_lines
        ),
        numbered as (
            select line_number, row_number() over (order by line_number) as skipped
            from skipped
        )
        select line_number - 2 - (skipped - 1) as good_rows_before, max(skipped) as skipped
        from numbered
        group by good_rows_before
        """
    )


def _load_parquet(con: duckdb.DuckDBPyConnection, table: InputTable, path: Path) -> None:
    source_sql = (
        f"select * from read_parquet({_quote_literal(literal_path(path))}, file_row_number = true)"
    )
    types = _describe_columns(con, source_sql, path.name)
    columns = [c for c in types if c != "file_row_number"]
    mapping = _match_columns(table, path.name, columns)
    try:
        source = (
            f"select {_raw_select_list(table, columns, mapping, types)}, "
            f"file_row_number + 1 as line_number from ({source_sql}) as src"
        )
        con.execute(
            f"create or replace table build.raw_{table.name}_rows as "
            f"{_stored_select(table, source)}"
        )
        rows_sql = f"select * from build.raw_{table.name}_rows"
        _create_raw_views(con, table, columns, mapping, rows_sql)
    except duckdb.Error as error:
        raise LoadError(f"{path.name}: cannot read the file ({_first_line(error)})") from None
