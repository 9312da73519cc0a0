"""The load types the usage snapshots as it reads them, and still keeps every text as written.

At 100k accounts the snapshots are 10M rows; stored as text and typed again by the
staging model they were written twice (issue 13). The load now writes each row once:
the parsed `observed_at_utc` and `quantity_count`, and the text only when it is not
the typed value's standard rendering. What finance and analysts rely on is that
nothing is lost: `build.raw_usage_snapshots` shows every value exactly as the file
wrote it, and a value that does not parse is rejected quoting its own text.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from closebook.loading import load_exports
from tests.exports import account, build, write_exports

# (observed_at, quantity) as written; worked out by hand: the UTC instant, the count,
# and whether the text has to be kept beside the typed value.
CASES = [
    ("2026-10-05T12:00:00Z", "35"),  # standard renderings: only typed values stored
    ("2026-10-05T14:00:00+02:00", "007"),  # another rendering of 12:00 UTC, and of 7
    ("2026-10-05T12:00:00", "0"),  # naive is UTC; no Z, so the text is kept
    ("10/05/2026", "x"),  # neither parses: both texts kept, typed values null
    ("", ""),  # blanks: nothing to keep
]
EXPECTED_STORED = [
    (datetime(2026, 10, 5, 12), 35, None, None),
    (datetime(2026, 10, 5, 12), 7, "2026-10-05T14:00:00+02:00", "007"),
    (datetime(2026, 10, 5, 12), 0, "2026-10-05T12:00:00", None),
    (None, None, "10/05/2026", "x"),
    (None, None, None, None),
]


def _folder(tmp_path: Path) -> Path:
    return write_exports(
        tmp_path / "in",
        accounts=[account("A1")],
        usage_snapshots=[
            {"account_id": "A1", "observed_at": at, "metric": "users", "quantity": q}
            for at, q in CASES
        ],
    )


def _stored(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The typed values and kept texts of the loaded snapshots, in file order."""
    return con.execute(
        "select observed_at_utc, quantity_count, observed_at_text, quantity_text "
        "from build.raw_usage_snapshots order by line_number"
    ).fetchall()


def test_the_load_stores_typed_values_and_only_the_texts_it_cannot_render(
    tmp_path: Path,
) -> None:
    con = duckdb.connect()
    load_exports(con, _folder(tmp_path))
    assert _stored(con) == EXPECTED_STORED


def test_every_text_reads_back_exactly_as_written(tmp_path: Path) -> None:
    con = duckdb.connect()
    load_exports(con, _folder(tmp_path))
    texts = con.execute(
        "select observed_at, quantity, line_number from build.raw_usage_snapshots "
        "order by line_number"
    ).fetchall()
    assert texts == [(at or None, q or None, line) for line, (at, q) in enumerate(CASES, 2)]


def test_rejected_rows_quote_their_own_text(tmp_path: Path) -> None:
    # Lines 3 and 4 are the instant of line 2 written another way, with other counts:
    # conflicting duplicates, shown as the file wrote them, not as the load stored them.
    con = build(_folder(tmp_path), "2026-10")
    rejected = con.execute(
        "select line_number, reason, raw from build.rejected_rows "
        "where file = 'usage_snapshots.csv' order by line_number"
    ).fetchall()
    duplicate = "conflicting duplicate snapshot: users at 2026-10-05 12:00:00 UTC"
    assert rejected == [
        (3, f"{duplicate} already reported as 35", "A1,2026-10-05T14:00:00+02:00,users,007"),
        (4, f"{duplicate} already reported as 35", "A1,2026-10-05T12:00:00,users,0"),
        (5, "observed_at '10/05/2026' is not an ISO 8601 timestamp", "A1,10/05/2026,users,x"),
        (6, "observed_at is blank", "A1,,users,"),
    ]


def test_a_parquet_export_is_typed_the_same_way(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    csv_folder = _folder(tmp_path)
    for path in csv_folder.glob("*.csv"):
        target = folder / f"{path.stem}.parquet"
        duckdb.execute(f"copy (select * from read_csv('{path}', all_varchar = true)) to '{target}'")
    con = duckdb.connect()
    load_exports(con, folder)
    assert _stored(con) == EXPECTED_STORED


def test_the_load_leaves_no_macro_outside_its_own_session(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    con = duckdb.connect(str(database))
    load_exports(con, _folder(tmp_path))
    con.close()
    con = duckdb.connect(str(database))
    found = con.execute(
        "select count(*) from duckdb_functions() where function_name = 'parse_utc'"
    ).fetchone()
    assert found == (0,)
