"""The warehouse as closebook opens it to write (`engine.open_warehouse`): 16,384-row
groups, so a table of a few ten thousand rows goes to the file as it is made, not to
the write-ahead log; and what it writes reads the same from an analyst's own
`duckdb.connect(file)`."""

from __future__ import annotations

from pathlib import Path

import duckdb

from closebook.engine import ROW_GROUP_ROWS, open_warehouse


def test_a_new_table_is_written_in_16384_row_groups_not_logged(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    con = open_warehouse(warehouse)
    con.execute("create schema build")
    con.execute("create table build.t as select i, 'text ' || i as s from range(40000) r(i)")
    groups = con.execute(
        "select row_group_id, max(count) from pragma_storage_info('build.t') "
        "group by row_group_id order by row_group_id"
    ).fetchall()
    wal = warehouse.with_name(warehouse.name + ".wal")
    logged = wal.stat().st_size if wal.exists() else 0
    con.close()
    assert ROW_GROUP_ROWS == 16_384
    assert [rows for _, rows in groups] == [16384, 16384, 7232]  # 40,000 rows
    # DuckDB's default (122,880-row groups) logs these rows: ~1 MB of log
    assert logged < 64 * 1024


def test_cursors_and_an_analysts_connection_see_the_same_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    con = open_warehouse(warehouse)
    con.execute("create schema build")
    con.execute("create table build.t as select 7 as x")
    con.execute("set search_path = 'build,main'")
    con.execute("create view build.v as select x + 1 as y from t")
    # the models and validation run on cursors: they must land in the warehouse too
    assert con.cursor().execute("select x from build.t").fetchall() == [(7,)]
    con.close()
    analyst = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert analyst.execute("select y from build.v").fetchall() == [(8,)]
    finally:
        analyst.close()


def test_a_quote_in_the_path_is_the_file_it_names(tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    folder.mkdir()
    warehouse = folder / "w.duckdb"
    open_warehouse(warehouse).close()
    assert warehouse.exists()
