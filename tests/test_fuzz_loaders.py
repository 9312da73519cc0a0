"""Fuzz the CSV and Parquet loaders (bounded: the `ci` profile keeps this under ~30 s).

Whatever bytes a file holds, loading either succeeds, with every data line either a
raw row or an unreadable row (each line number once, header = line 1), or stops
with a one-line `LoadError`. Any other exception is a bug in closebook/loading.py.
Well-formed files written by Python's csv module are the oracle: every row comes
back with exactly its values and the line number a spreadsheet shows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from closebook.loading import LoadError, load_exports
from closebook.models import ClosePeriod, build_models
from tests.exports import account, rows, write_exports

HEADER = ["account_id", "observed_at", "metric", "quantity"]
HEADER_LINE = b"account_id,observed_at,metric,quantity\n"
FEW = max(4, settings.default.max_examples // 5)  # for the ones that also build (~2 s each)
SOME = max(10, settings.default.max_examples * 3 // 4)  # load only (~0.3 s each)


def fresh_folder(root: Path) -> Path:
    import shutil
    import uuid

    folder = root / uuid.uuid4().hex
    shutil.rmtree(folder, ignore_errors=True)
    return write_exports(folder, accounts=[account("A")])


def load_snapshots(folder: Path, content: bytes) -> duckdb.DuckDBPyConnection | None:
    """Load with usage_snapshots.csv = content; None when the loader refused the file."""
    (folder / "usage_snapshots.csv").write_bytes(content)
    con = duckdb.connect()
    try:
        load_exports(con, folder)
    except LoadError as error:
        assert "\n" not in str(error) and str(error).startswith("usage_snapshots.csv")
        return None
    return con


def line_numbers(con: duckdb.DuckDBPyConnection) -> tuple[list[int], list[int]]:
    good = [
        r[0] for r in con.execute("select line_number from build.raw_usage_snapshots").fetchall()
    ]
    bad = [
        r[0]
        for r in con.execute(
            "select line_number from build.raw_unreadable_rows "
            "where source_table = 'usage_snapshots'"
        ).fetchall()
    ]
    return good, bad


def assert_lines_sane(con: duckdb.DuckDBPyConnection) -> None:
    good, bad = line_numbers(con)
    every = good + bad
    assert len(every) == len(set(every)), "a line number was used twice"
    assert all(n >= 2 for n in every), "a data row was numbered as the header"
    assert good == sorted(good), "good rows must keep file order"


structural = st.sampled_from([b",", b'"', b"\n", b"\r\n", b"\r", b"\x00", b'""', b",,,"])
chunks = st.one_of(
    st.binary(max_size=12),
    structural,
    st.text(max_size=8).map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"A,2026-10-02,users,3\n", b"\xe9", b"\xef\xbb\xbf", b"x" * 5000]),
)


@settings(max_examples=SOME)
@given(body=st.lists(chunks, max_size=25).map(b"".join))
def test_any_bytes_after_a_header_load_or_raise_load_error(tmp_path_factory, body):
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    con = load_snapshots(folder, HEADER_LINE + body)
    if con is not None:
        assert_lines_sane(con)


@settings(max_examples=SOME)
@given(content=st.binary(max_size=200))
def test_any_bytes_as_a_whole_file_load_or_raise_load_error(tmp_path_factory, content):
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    con = load_snapshots(folder, content)
    if con is not None:
        assert_lines_sane(con)


field = st.one_of(
    st.text(alphabet=st.sampled_from('aZ9 ,"\n\r\t;é€'), max_size=6),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)


def rfc4180(value: str) -> str:
    """Quote a field when RFC 4180 says it must be (Python's csv.writer leaves a lone CR
    unquoted when the line terminator is LF, which no reader can read back)."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@settings(max_examples=SOME)
@given(
    data=st.lists(st.lists(field, min_size=4, max_size=4), max_size=8),
    terminator=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_well_formed_csv_comes_back_exactly_with_spreadsheet_line_numbers(
    tmp_path_factory, data, terminator, bom
):
    lines = [",".join(rfc4180(value) for value in row) for row in [HEADER, *data]]
    content = ("\ufeff" if bom else "") + "".join(line + terminator for line in lines)
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    con = load_snapshots(folder, content.encode("utf-8"))
    assert con is not None
    got = con.execute(
        "select account_id, observed_at, metric, quantity, line_number "
        "from build.raw_usage_snapshots order by line_number"
    ).fetchall()
    expected = [
        (*[value if value != "" else None for value in row], line)
        for line, row in enumerate(data, start=2)
    ]
    assert got == expected
    assert line_numbers(con)[1] == []


@settings(max_examples=SOME)
@given(
    good=st.lists(st.integers(0, 50), max_size=6),
    blank_after=st.lists(st.integers(0, 6), max_size=3),
    bad_after=st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["short", "long", "latin1"]))),
)
def test_blank_and_unreadable_lines_never_shift_the_good_rows(
    tmp_path_factory, good, blank_after, bad_after
):
    lines: list[tuple[str, bytes]] = [("good", f"A,2026-10-02,users,{q}".encode()) for q in good]
    for position, kind in sorted(bad_after, reverse=True):
        text = {"short": b"A,2026-10-02", "long": b"A,1,users,2,3", "latin1": b"A\xe9,1,users,2"}
        lines.insert(min(position, len(lines)), ("bad", text[kind]))
    for position in sorted(blank_after, reverse=True):
        lines.insert(min(position, len(lines)), ("blank", b""))
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    con = load_snapshots(folder, HEADER_LINE + b"".join(text + b"\n" for _, text in lines))
    assert con is not None
    got_good, got_bad = line_numbers(con)
    assert got_good == [n for n, (kind, _) in enumerate(lines, start=2) if kind == "good"]
    assert sorted(got_bad) == [n for n, (kind, _) in enumerate(lines, start=2) if kind == "bad"]
    quantities = [
        int(r[0]) for r in con.execute("select quantity from build.raw_usage_snapshots").fetchall()
    ]
    assert quantities == good


@settings(max_examples=FEW)
@given(body=st.lists(chunks, max_size=15).map(b"".join))
def test_fuzzed_file_builds_and_every_row_read_is_accounted_for(tmp_path_factory, body):
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    con = load_snapshots(folder, HEADER_LINE + b"A,2026-10-02,users,3\n" + body)
    if con is None:
        return
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 12, 31))
    for r in rows(con, "select * from load_counts"):
        assert r["rows_read"] == r["accepted"] + r["duplicates"] + r["rejected"], r
    good, bad = line_numbers(con)
    (counts,) = rows(con, "select * from load_counts where file = 'usage_snapshots.csv'")
    assert counts["rows_read"] == len(good) + len(bad)


parquet_values = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
)


@settings(max_examples=FEW)
@given(
    values=st.lists(st.tuples(parquet_values, parquet_values), min_size=0, max_size=6),
    kind=st.sampled_from(["VARCHAR", "DOUBLE", "BIGINT", "TIMESTAMP", "TIMESTAMPTZ", "DATE"]),
)
def test_parquet_of_any_column_types_builds_with_counts_adding_up(tmp_path_factory, values, kind):
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    (folder / "usage_snapshots.csv").unlink()
    con = duckdb.connect()
    con.execute("create table src (observed_at varchar, quantity varchar)")
    for observed, quantity in values:
        con.execute(
            "insert into src values (?, ?)",
            [
                None if observed is None else str(observed),
                None if quantity is None else str(quantity),
            ],
        )
    cast = {
        "TIMESTAMP": "try_cast(observed_at as timestamp)",
        "TIMESTAMPTZ": "try_cast(observed_at as timestamptz)",
        "DATE": "try_cast(observed_at as date)",
    }.get(kind, "'2026-10-02'")
    con.execute(
        f"copy (select 'A' as account_id, {cast} as observed_at, 'users' as metric, "
        f"try_cast(quantity as {kind if kind in ('VARCHAR', 'DOUBLE', 'BIGINT') else 'VARCHAR'}) "
        f"as quantity from src) to '{folder / 'usage_snapshots.parquet'}' (format parquet)"
    )
    load_exports(con, folder)
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 12, 31))
    (counts,) = rows(con, "select * from load_counts where file = 'usage_snapshots.parquet'")
    assert counts["rows_read"] == len(values)
    assert counts["rows_read"] == counts["accepted"] + counts["duplicates"] + counts["rejected"]


@settings(max_examples=FEW)
@given(content=st.binary(min_size=0, max_size=300))
def test_a_corrupt_parquet_file_is_a_load_error(tmp_path_factory, content):
    folder = fresh_folder(tmp_path_factory.getbasetemp())
    (folder / "usage_snapshots.csv").unlink()
    (folder / "usage_snapshots.parquet").write_bytes(b"PAR1" + content + b"PAR1")
    try:
        load_exports(duckdb.connect(), folder)
    except LoadError as error:
        assert "\n" not in str(error) and "usage_snapshots.parquet" in str(error)


def test_a_huge_field_is_rejected_or_loaded_not_crashed(tmp_path):
    folder = fresh_folder(tmp_path)
    con = load_snapshots(
        folder,
        HEADER_LINE + b"A,2026-10-02,users," + b"9" * 3_000_000 + b"\nA,2026-10-03,users,4\n",
    )
    assert con is not None
    good, bad = line_numbers(con)
    assert sorted(good + bad) == [2, 3]
