"""The four month-end workbooks (contract 5): invoices, overage, prepaid, reconciliation.

`write_workbooks` streams each workbook from the warehouse's `main` tables
for one period; `verify_workbooks` reads them back and compares every stored
figure with the warehouse. See docs/workbooks.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

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

__all__ = ["WORKBOOKS", "RunInfo", "verify_workbooks", "write_workbooks"]


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
