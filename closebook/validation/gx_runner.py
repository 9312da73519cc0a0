"""Great-expectations as the judge, DuckDB as the engine: each check's failing rows only.

Why: pulling every row of a ten-million-row frame through pandas so GX can look at it
cost more than building the close. GX's value expectations (between, in set, not null)
are row rules, so DuckDB applies the same rules first (`Check.failing_rows_sql`, from
`Expect.breaks`) and GX validates only the rows that break at least one of them: on a
clean close that is an empty frame per check, and GX still decides every pass or fail,
counts the unexpected rows and picks the examples. The number of rows checked
(GX's element_count) is counted in DuckDB. Failing rows stream in chunks of at most
`CHUNK_ROWS`, so even a month where every row fails never becomes one frame.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from .checks import COLUMN_LEVEL, Check, Expect
from .results import CheckResult, join, snake

CHUNK_ROWS = 500_000
EXAMPLES = 5

_import_lock = threading.Lock()


def import_gx() -> Any:
    """Import great_expectations once, quietly (safe to call from a warm-up thread).

    The import alone takes seconds; the pipeline starts it in a background thread while
    DuckDB loads and builds (see `warm_up`), so validation finds it done.
    """
    with _import_lock:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        import great_expectations as gx

        # GX pins some of its module loggers at INFO ("Created temporary directory ...
        # for ephemeral docs site"): quiet every one of them, not just the parent.
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.ERROR)
        return gx


def warm_up() -> threading.Thread:
    """Import GX in a daemon thread: DuckDB releases the GIL, so it overlaps the build.

    The thread runs at the lowest CPU priority (Linux: a thread has its own nice
    value), so it takes only the core DuckDB leaves idle. At the normal priority it
    took one of the two cores from the build's heaviest model (100k accounts:
    stg_usage_snapshots 2.6 s alone, 4.3 s beside the import; the build 1.4 s
    longer). The GIL it holds does not stall the close: the close's thread needs it
    between two DuckDB queries, when DuckDB's threads leave the cores to it.
    """
    thread = threading.Thread(target=_import_gx_when_idle, name="gx-import", daemon=True)
    thread.start()
    return thread


def _import_gx_when_idle() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    import_gx()


class GxRunner:
    """One ephemeral GX context (quiet: no progress bars, no analytics) for a whole close."""

    def __init__(self) -> None:
        gx = import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # One asset and batch definition for every check: registering one per check
        # (and a validation definition) wrote the context's config each time.
        source = self.context.data_sources.add_pandas("build_frames")
        self.batches = source.add_dataframe_asset(
            name="check_frame"
        ).add_batch_definition_whole_dataframe("whole_frame")

    def run(
        self, con: duckdb.DuckDBPyConnection, check: Check
    ) -> list[tuple[CheckResult, Check, set[str]]]:
        """Every expectation of the check, judged by GX on the rows DuckDB says can fail."""
        gx = self.gx
        expectations = []
        for index, expect in enumerate(check.expectations):
            kwargs = dict(expect.kwargs)
            if expect.column is not None:
                kwargs["column"] = expect.column
            expectations.append(
                getattr(gx.expectations, expect.kind)(meta={"index": index}, **kwargs)
            )
        suite = gx.ExpectationSuite(name=f"{check.suite}.{check.name}", expectations=expectations)
        totals = [_Tally() for _ in check.expectations]
        started = time.perf_counter()
        try:
            count_sql = check.count_sql()
            element_count = _count(con, count_sql) if count_sql else 0
            for frame in _frames(con, check.failing_rows_sql()):
                if count_sql is None:
                    element_count += len(frame)
                # COMPLETE (every failing row's key) only where the key holds invoices;
                # elsewhere a few examples, named by the frame's first (key) column.
                key = check.attribute_by or str(frame.columns[0])
                result_format: dict[str, Any] = {
                    "result_format": "COMPLETE" if check.attribute_by else "SUMMARY",
                    "partial_unexpected_count": EXAMPLES,
                }
                if key in frame.columns:
                    result_format["unexpected_index_column_names"] = [key]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    batch = self.batches.get_batch(batch_parameters={"dataframe": frame})
                    outcome = batch.validate(suite, result_format=result_format)
                for item in outcome.results:
                    totals[int(item.expectation_config.meta["index"])].add(item, check.attribute_by)
        except duckdb.Error as error:
            message = str(error).strip().splitlines()[0]
            return [
                (errored(check, expect, f"the check's query failed: {message}"), check, set())
                for expect in check.expectations
            ]
        elapsed = time.perf_counter() - started
        return [
            (tally.result(check, expect, element_count, elapsed), check, tally.keys)
            for tally, expect in zip(totals, check.expectations, strict=True)
        ]


@dataclass
class _Tally:
    """One expectation's results added up over the chunks of its failing rows."""

    unexpected_count: int = 0
    gx_element_count: int = 0
    success: bool = True
    examples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def add(self, item: Any, attribute_by: str | None) -> None:
        self.success = self.success and bool(item.success)
        info = item.exception_info or {}
        if info.get("raised_exception"):
            self.success = False
            self.errors.append(str(info.get("exception_message", "exception")).splitlines()[0])
        result = item.result or {}
        self.unexpected_count += int(result.get("unexpected_count") or 0)
        self.gx_element_count += int(result.get("element_count") or 0)
        if "observed_value" in result and not item.success:
            self.examples.append(f"observed {result['observed_value']}")
        indexed = [
            row
            for row in result.get("partial_unexpected_index_list") or []
            if isinstance(row, dict)
        ]
        for row in indexed:
            if len(self.examples) < EXAMPLES:
                self.examples.append(", ".join(f"{k}={v}" for k, v in row.items()))
        if not indexed:
            for value in result.get("partial_unexpected_list") or []:
                if len(self.examples) < EXAMPLES:
                    self.examples.append(str(value))
        if attribute_by:
            for row in result.get("unexpected_index_list") or []:
                if isinstance(row, dict) and row.get(attribute_by) is not None:
                    self.keys.add(str(row[attribute_by]))

    def result(
        self, check: Check, expect: Expect, element_count: int, elapsed: float
    ) -> CheckResult:
        if expect.kind in COLUMN_LEVEL:
            # GX reports no row count for a rule on the column's type; neither do we.
            element_count = self.gx_element_count
        details = f"{element_count} rows in {elapsed:.2f}s"
        if self.errors:
            details = join(details, "error: " + "; ".join(sorted(set(self.errors))))
        return check_result(
            check,
            expect,
            status="passed" if self.success else "failed",
            element_count=element_count,
            unexpected_count=self.unexpected_count,
            examples=tuple(self.examples[:EXAMPLES]),
            details=details,
        )


@contextlib.contextmanager
def _build_cursor(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own (a check's stream never disturbs the caller's), reading build first."""
    cursor = con.cursor()
    try:
        cursor.execute("set search_path = 'build,main'")
        yield cursor
    finally:
        cursor.close()


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    with _build_cursor(con) as cursor:
        row = cursor.execute(sql).fetchone()
        return int(row[0]) if row else 0


def _frames(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[pd.DataFrame]:
    """The query's rows as pandas frames of at most CHUNK_ROWS rows (at least one frame).

    A separate cursor streams Arrow record batches; an empty result still yields an
    empty frame with its columns (and their types), so the expectations run (and pass,
    or judge the column's type) instead of silently not running.
    """
    with _build_cursor(con) as cursor:
        reader = cursor.sql(sql).to_arrow_reader(CHUNK_ROWS)
        empty = True
        for batch in reader:
            if batch.num_rows == 0:
                continue
            empty = False
            yield batch.to_pandas()
        if empty:
            yield reader.schema.empty_table().to_pandas()


def check_result(check: Check, expect: Expect, **outcome: Any) -> CheckResult:
    """One expectation's result row: which check and rule it is, plus what happened."""
    return CheckResult(
        suite=check.suite,
        check=check.name,
        expectation=snake(expect.kind),
        table=check.table,
        column=expect.column,
        description=expect.says,
        **outcome,
    )


def skipped(check: Check, expect: Expect, missing: list[str]) -> CheckResult:
    return check_result(
        check,
        expect,
        status="skipped",
        details="skipped: not in this build: " + ", ".join(missing),
        action="skipped",
    )


def errored(check: Check, expect: Expect, message: str) -> CheckResult:
    return check_result(check, expect, status="failed", details=message)
