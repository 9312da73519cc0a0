"""Models run two at a time, each once what it reads is built: the same rows as one at a time.

The build runs independent models side by side (closebook.models.run_models). What a
user relies on: every table holds what the models run one by one in run order would
write, a model never reads a table still being written, and a failing model is named
as before, with nothing built on top of it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.loading import load_exports
from closebook.models import ClosePeriod, build_models, discover_models, run_models
from tests.test_model_graph import sql_folder

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _build_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'build' "
            "and not temporary order by table_name"
        ).fetchall()
    ]


def _session() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema build")
    con.execute("set search_path = 'build,main'")
    return con


def test_a_model_reads_the_whole_of_a_slow_model_it_depends_on(tmp_path: Path) -> None:
    # int_slow takes far longer than int_quick; int_top reads both. Run two at a time,
    # int_top must still wait for all 3,000,000 rows of int_slow (sum 1..3e6 worked out
    # by hand: n(n+1)/2 = 4,500,001,500,000).
    folder = sql_folder(
        tmp_path,
        int_slow="select i as n from range(1, 3000001) t(i) order by hash(i)",
        int_quick="select 7 as n",
        int_top=(
            "select (select count(*) from int_slow) as slow_rows, "
            "(select sum(n) from int_slow) as slow_sum, (select n from int_quick) as quick"
        ),
    )
    con = _session()
    names = run_models(con, discover_models(folder), parallel=2)
    assert names == ["int_quick", "int_slow", "int_top"]
    assert con.execute("select * from build.int_top").fetchone() == (3000000, 4500001500000, 7)


def test_a_failing_model_is_named_and_nothing_built_on_it(tmp_path: Path) -> None:
    folder = sql_folder(
        tmp_path,
        int_a="select 1 as n",
        int_bad="select cast('not a number' as integer) as n",
        int_on_bad="select * from int_bad",
        top="select * from int_on_bad, int_a",
    )
    con = _session()
    with pytest.raises(
        RuntimeError, match=r"model intermediate/int_bad\.sql failed: .*not a number"
    ):
        run_models(con, discover_models(folder), parallel=2)
    built = _build_tables(con)
    assert "int_on_bad" not in built and "top" not in built


def test_of_two_failing_models_the_first_in_run_order_is_named(tmp_path: Path) -> None:
    # Which fails first in time depends on the schedule; the error must not.
    folder = sql_folder(
        tmp_path,
        int_a_bad=(
            "select cast(case when i = 2999999 then 'a' else '1' end as integer) as n "
            "from range(3000000) t(i)"
        ),
        int_b_bad="select cast('b' as integer) as n",
    )
    for _ in range(3):
        con = _session()
        with pytest.raises(RuntimeError, match=r"int_a_bad\.sql failed"):
            run_models(con, discover_models(folder), parallel=2)


def _table_rows(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    return sorted(
        con.execute(f"select * from build.{name}").fetchall(),
        key=lambda row: tuple((value is None, str(value)) for value in row),
    )


def test_the_shipped_models_build_the_same_rows_two_at_a_time_as_one_at_a_time() -> None:
    # The reference is the runner with no second model: one query after another in run
    # order, as the close ran before models ran side by side.
    results = []
    for parallel in (1, 2):
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        load_exports(con, SAMPLE)
        build_models(con, ClosePeriod.parse("2026-10"), date(2026, 11, 20), parallel=parallel)
        names = [model.name for model in discover_models()]
        results.append({name: _table_rows(con, name) for name in names})
        con.close()
    one_at_a_time, two_at_a_time = results
    assert one_at_a_time.keys() == two_at_a_time.keys()
    for name in one_at_a_time:
        assert two_at_a_time[name] == one_at_a_time[name], name
    assert len(one_at_a_time["invoices"]) > 0
