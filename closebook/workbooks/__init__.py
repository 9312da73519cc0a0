"""The four month-end workbooks (contract 5): invoices, overage, prepaid, reconciliation.

`write_workbooks` streams each workbook from the warehouse's `main` tables
for one period; `write_workbooks_in_parallel` does the same with one process
per workbook (what the close runs); `verify_workbooks` reads them back and
compares every stored figure with the warehouse. See docs/workbooks.md.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb

from closebook.engine import spill_directory

from .invoices import write_invoices
from .overage import write_overage
from .prepaid import write_prepaid
from .reconciliation import write_reconciliation
from .verify import verify_workbooks
from .warehouse import RunInfo

WorkbookWriter = Callable[[duckdb.DuckDBPyConnection, str, Path, RunInfo], Path]

WORKBOOKS: dict[str, WorkbookWriter] = {
    "invoices": write_invoices,
    "overage": write_overage,
    "prepaid": write_prepaid,
    "reconciliation": write_reconciliation,
}

__all__ = [
    "WORKBOOKS",
    "RunInfo",
    "verify_workbooks",
    "write_workbooks",
    "write_workbooks_in_parallel",
]


def write_workbooks(
    con: duckdb.DuckDBPyConnection, period: str, reports_dir: Path, run_info: RunInfo
) -> list[Path]:
    """Write `<reports_dir>/<period>/{invoices,overage,prepaid,reconciliation}.xlsx`.

    Each file is written to a temporary name beside its final one and moved
    into place only when complete, so a failed run leaves the previous
    workbooks as they were.
    """
    if run_info.period != period:
        raise ValueError(f"run_info is for {run_info.period}, not {period}")
    folder = Path(reports_dir) / period
    return [
        writer(con, period, folder / f"{name}.xlsx", run_info) for name, writer in WORKBOOKS.items()
    ]


def write_workbooks_in_parallel(
    warehouse: Path,
    period: str,
    reports_dir: Path,
    run_info: RunInfo,
    workers: int = 2,
    memory_limit: int | None = None,
) -> list[Path]:
    """The four workbooks at once, one process each, reading the warehouse read-only.

    Why processes: XlsxWriter is pure Python, so threads would share one core; a
    workbook per process uses every core the close has. DuckDB lets many processes
    read a file only when none writes it, so the caller must have closed its own
    connection. The biggest workbooks start first, so the small ones fill in behind
    them. Same files as `write_workbooks`: each is written atomically by its worker.
    memory_limit (bytes) is shared between the workers' DuckDB sessions.
    """
    if run_info.period != period:
        raise ValueError(f"run_info is for {run_info.period}, not {period}")
    folder = Path(reports_dir) / period
    names = list(WORKBOOKS)
    if workers <= 1:
        return [
            _write_one(name, str(warehouse), period, str(folder / f"{name}.xlsx"), run_info, None)
            for name in names
        ]
    share = memory_limit // workers if memory_limit else None
    context = multiprocessing.get_context(START_METHOD)
    with ProcessPoolExecutor(max_workers=min(workers, len(names)), mp_context=context) as pool:
        futures = {
            name: pool.submit(
                _write_one,
                name,
                str(warehouse),
                period,
                str(folder / f"{name}.xlsx"),
                run_info,
                share,
            )
            for name in sorted(names, key=LARGEST_FIRST.index)
        }
        return [Path(futures[name].result()) for name in names]


# "spawn": a fresh interpreter per worker; forking a process that has run DuckDB and
# Prefect threads could copy a lock some thread holds. (The fault tests fork, to carry
# a writer that kills itself mid-write into the worker.)
START_METHOD = "spawn"

# The order the workbooks take to write at 100k accounts, longest first.
LARGEST_FIRST = ["invoices", "reconciliation", "prepaid", "overage"]


def _write_one(
    name: str,
    warehouse: str,
    period: str,
    path: str,
    run_info: RunInfo,
    memory_limit: int | None,
) -> str:
    """One workbook from its own read-only connection (runs in a worker process)."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set threads = 1")
        con.execute("set enable_progress_bar = false")
        if memory_limit:
            con.execute(f"set memory_limit = '{int(memory_limit)}B'")
        # Spill where the close spills (removed by the close when its next step ends).
        con.execute("set temp_directory = ?", [str(spill_directory(Path(warehouse)))])
        return str(WORKBOOKS[name](con, period, Path(path), run_info))
    finally:
        con.close()
