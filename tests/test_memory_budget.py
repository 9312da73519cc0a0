"""A close runs within a memory budget the user sets (`--memory-limit`), spilling to disk.

The budget is DuckDB's memory_limit on every connection of the close, with a spill
directory beside the warehouse that is removed when the step's connection closes.
(The 100k-account close under 1 GiB is in the benchmark: docs/benchmarks.md.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from closebook.cli import build_parser
from closebook.engine import (
    MemoryLimitError,
    memory_limit_bytes,
    physical_memory_bytes,
    spill_directory,
)
from closebook.pipeline import CloseContext, connect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1GiB", 2**30),  # 1 x 1024^3
        ("1500MB", 1_500_000_000),  # 1500 x 1000^2
        ("512mib", 512 * 2**20),
        ("0.5 GiB", 2**29),
        ("134217728", 2**27),  # a bare number is bytes
    ],
)
def test_a_budget_is_a_size(text: str, expected: int) -> None:
    assert memory_limit_bytes(text) == expected


def test_a_budget_may_be_a_share_of_ram_and_defaults_to_half() -> None:
    assert memory_limit_bytes("25%") == int(physical_memory_bytes() * 25 / 100)
    assert memory_limit_bytes(None) == int(physical_memory_bytes() * 0.5)
    ctx = CloseContext.create("2026-10", Path("in"), Path("w.duckdb"), Path("r"))
    assert ctx.memory_limit == memory_limit_bytes(None)


@pytest.mark.parametrize("text", ["lots", "4 GB of RAM", "0%", "120%", "1MB", "-1GiB"])
def test_a_budget_that_is_not_a_size_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(MemoryLimitError) as error:
        memory_limit_bytes(text)
    assert "\n" not in str(error.value) and text in str(error.value)


def test_the_cli_refuses_a_bad_budget_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["close", "--period", "2026-10", "--input", "x", "--memory-limit", "lots"]
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 2
    assert "memory limit 'lots'" in capsys.readouterr().err
    ok = build_parser().parse_args([*argv[:-1], "2GiB"])
    assert ok.memory_limit == "2GiB"


def test_a_query_bigger_than_the_budget_spills_and_finishes(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    budget = 64 * 2**20
    with connect(warehouse, budget, ordered=False) as con:
        limit, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert limit == "64.0 MiB"
        assert Path(spill) == spill_directory(warehouse) == tmp_path / "warehouse.duckdb.spill"
        # ~3M rows of ~30-byte strings, sorted: well over 64 MiB in flight.
        con.execute(
            "create table sorted as select i, repeat('x', 24) || i as s "
            "from range(3000000) as t(i) order by s desc"
        )
        (count,) = con.execute("select count(*) from sorted").fetchone()
        assert count == 3_000_000
    assert not spill_directory(warehouse).exists()
