"""DuckDB's session settings for a close, chosen on purpose rather than left to defaults.

Why: a close must finish within a memory budget the user can set (spilling to disk
rather than being killed), and use every core it is given. DuckDB's defaults are 80%
of RAM and a spill directory it may leave behind; on a machine shared with other work
that is not a budget. Each step's connection gets:

- `memory_limit`: the budget (`--memory-limit`, default half of physical RAM). DuckDB
  spills sorts, joins and aggregates past it; the Python side of the close streams in
  batches and stays small beside it.
- `temp_directory`: `<warehouse>.spill/` beside the warehouse (same disk, same
  permissions), removed when the step's connection closes.
- `threads`: the cores this process may run on.
- `enable_progress_bar`: off; the close reports its own progress and summary.
- `preserve_insertion_order`: false only where no result depends on physical row order
  (the build and validation: line numbers are explicit columns and every ordered
  output says `order by`); loading numbers lines from the reader's row order, so it
  keeps the default.

Every connection that writes the warehouse attaches it with row groups of
`ROW_GROUP_ROWS` rows (`open_warehouse`), not DuckDB's 122,880.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb

DEFAULT_MEMORY_SHARE = 0.5
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_LIMIT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]i?b|b)?\s*", re.IGNORECASE)
# Below this DuckDB cannot hold even the models' hash tables' first partitions.
MIN_MEMORY_BYTES = 64 * 2**20


class MemoryLimitError(ValueError):
    """The memory budget is not a size (`4GiB`, `1500MB`) or a share of RAM (`50%`)."""


# DuckDB writes a new table's rows to the file compressed, as a CREATE TABLE AS makes
# them, one full row group at a time; rows that fill no row group go to the write-ahead
# log at commit instead, and are compressed at the next checkpoint (when the step's
# connection closes), one table after another on one core. With DuckDB's 122,880-row
# groups most of a close's tables fill none (100k accounts: 33 of the 46 tables; the
# build left 205 MB of log and a 1.2-1.6 s checkpoint). With 16,384-row groups they
# are written as they are made. The size is DuckDB's per attach, not per file, and a
# checkpoint merges row groups smaller than its attach's size: every connection that
# writes must use the same one, or its checkpoint rewrites the tables (seconds).
# An analyst's own connection with DuckDB's default does that once, harmlessly.
ROW_GROUP_ROWS = 16_384


def open_warehouse(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file to write, as the connection's only database (its cursors'
    too), with `ROW_GROUP_ROWS`-row groups. DuckDB's errors (a lock conflict's) as is.

    The catalog is named `warehouse` (an analyst's `duckdb.connect(file)` names it
    after the file): closebook's SQL never names a catalog, so views read the same."""
    con = duckdb.connect()
    try:
        # Absolute: DuckDB would read a leading `~` as the home folder.
        path = str(warehouse.absolute()).replace("'", "''")
        con.execute(f"attach '{path}' as warehouse (row_group_size {ROW_GROUP_ROWS})")
        con.execute("use warehouse")
        con.execute("detach memory")
    except BaseException:
        con.close()
        raise
    return con


def physical_memory_bytes() -> int:
    """Physical RAM of the machine (what a percentage budget is a share of)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_cores() -> int:
    """Cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def memory_limit_bytes(text: str | None) -> int:
    """The budget in bytes: None means the default share of RAM.

    `4GiB`, `1500MB`, `512mib`, `50%` (of physical RAM); a bare number is bytes.
    """
    if text is None:
        return int(physical_memory_bytes() * DEFAULT_MEMORY_SHARE)
    match = _LIMIT.fullmatch(text)
    if not match:
        raise MemoryLimitError(
            f"memory limit '{text}' is not a size like 4GiB or 1500MB, or a share like 50%"
        )
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise MemoryLimitError(f"memory limit '{text}' must be a share between 0 and 100%")
        limit = int(physical_memory_bytes() * number / 100)
    else:
        limit = int(number * _UNITS[unit])
    if limit < MIN_MEMORY_BYTES:
        raise MemoryLimitError(f"memory limit '{text}' is below the 64MiB a close needs")
    return limit


def spill_directory(warehouse: Path) -> Path:
    """Where DuckDB spills past the budget: beside the warehouse, removed after each step."""
    return warehouse.with_name(warehouse.name + ".spill")


def apply_settings(
    con: duckdb.DuckDBPyConnection,
    warehouse: Path,
    memory_limit: int,
    ordered: bool = True,
) -> None:
    """Set the budget, spill directory, threads and insertion order on a new connection."""
    con.execute(f"set memory_limit = '{int(memory_limit)}B'")
    con.execute("set temp_directory = ?", [str(spill_directory(warehouse))])
    con.execute(f"set threads = {available_cores()}")
    con.execute(f"set preserve_insertion_order = {'true' if ordered else 'false'}")
    # A long query would draw DuckDB's progress bar on the terminal finance reads.
    con.execute("set enable_progress_bar = false")


def remove_spill(warehouse: Path) -> None:
    """Drop what DuckDB spilled (call after the connection is closed)."""
    shutil.rmtree(spill_directory(warehouse), ignore_errors=True)
