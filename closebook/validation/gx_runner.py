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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from .checks import COLUMN_LEVEL, Check, Expect
from .deferred_imports import deferred
from .results import CheckResult, join, snake

CHUNK_ROWS = 500_000
EXAMPLES = 5
SURVEY_THREADS = 2

_import_lock = threading.Lock()
_warm_lock = threading.Lock()  # not the import's lock: a caller never waits on the import
_warming: threading.Thread | None = None

# What GX imports at start and a close never uses: its distribution tests (scipy.stats)
# and its charts (altair). Run when first used (deferred_imports).
DEFERRED_BY_GX = ("scipy", "altair")


def import_gx() -> Any:
    """Import great_expectations once, quietly (safe to call from a warm-up thread).

    The import alone takes seconds; the pipeline starts it in a background thread while
    DuckDB loads and builds (see `warm_up`), so validation finds it done.
    """
    with _import_lock:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        with deferred(DEFERRED_BY_GX):
            import great_expectations as gx

        # GX pins some of its module loggers at INFO ("Created temporary directory ...
        # for ephemeral docs site"): quiet every one of them, not just the parent.
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.ERROR)
        return gx


def warm_up() -> threading.Thread:
    """Import GX in a daemon thread: DuckDB releases the GIL, so it overlaps the build.
    Started once per process; later calls return the same thread.

    The thread runs at the lowest CPU priority (Linux: a thread has its own nice
    value), so it takes only the core DuckDB leaves idle. At the normal priority it
    took one of the two cores from the build's heaviest model (100k accounts:
    stg_usage_snapshots 2.6 s alone, 4.3 s beside the import; the build 1.4 s
    longer). The GIL it holds does not stall the close: the close's thread needs it
    between two DuckDB queries, when DuckDB's threads leave the cores to it.
    """
    global _warming
    with _warm_lock:
        if _warming is None:
            _warming = threading.Thread(target=_import_gx_when_idle, name="gx-import", daemon=True)
            _warming.start()
        return _warming


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

    def run_all(
        self, con: duckdb.DuckDBPyConnection, checks: Sequence[Check]
    ) -> list[tuple[CheckResult, Check, set[str]]]:
        """Every expectation of every check, in the checks' order.

        DuckDB first counts each check's rows and the rows that can fail. A check with
        failing rows is judged on its own, on those rows (`run`). The checks with none
        (all of them, on a clean close) are judged together: one GX validation of one
        empty frame that holds all their columns, each check's under a prefix of its
        own. Each expectation still looks only at its own check's column, with the type
        DuckDB gives it, so GX decides exactly as it would check by check, for one
        validation's fixed cost instead of one per check.
        """
        judged: dict[int, list[tuple[CheckResult, Check, set[str]]]] = {}
        clean: list[_Clean] = []
        for position, (check, found) in enumerate(zip(checks, _survey(con, checks), strict=True)):
            if isinstance(found, duckdb.Error):
                judged[position] = _query_failed(check, found)
            elif found.schema is None:
                started = time.perf_counter() - found.seconds
                judged[position] = self.run(con, check, found.element_count, started)
            else:
                clean.append(
                    _Clean(position, check, found.element_count, found.schema, found.seconds)
                )
        judged.update(self._judge_clean(con, clean))
        return [row for position in range(len(checks)) for row in judged[position]]

    def _judge_clean(
        self, con: duckdb.DuckDBPyConnection, clean: list[_Clean]
    ) -> dict[int, list[tuple[CheckResult, Check, set[str]]]]:
        """The checks with no failing row, judged by GX in one validation (see run_all).

        An expectation that raises (a column the frame lacks, a rule GX cannot apply to
        the column's type) would name the prefixed column: such a check is judged again
        on its own, so its result reads as it always did.
        """
        if not clean:
            return {}
        started = time.perf_counter()
        fields: list[pa.Field] = []
        expectations = []
        for number, item in enumerate(clean):
            prefix = _prefix(number)
            fields.extend(field.with_name(prefix + field.name) for field in item.schema)
            expectations.extend(
                self._expectation(expect, {"check": number, "index": index}, prefix)
                for index, expect in enumerate(item.check.expectations)
            )
        frame = pa.schema(fields).empty_table().to_pandas()
        suite = self.gx.ExpectationSuite(name="clean_checks", expectations=expectations)
        outcome = self._validate(frame, suite, {"result_format": "BOOLEAN_ONLY"})
        totals = [[_Tally() for _ in item.check.expectations] for item in clean]
        for result in outcome.results:
            meta = result.expectation_config.meta
            totals[int(meta["check"])][int(meta["index"])].add(result, None)
        share = (time.perf_counter() - started) / len(clean)
        judged: dict[int, list[tuple[CheckResult, Check, set[str]]]] = {}
        for item, tallies in zip(clean, totals, strict=True):
            if any(tally.errors or not tally.success for tally in tallies):
                judged[item.position] = self.run(
                    con, item.check, item.element_count, time.perf_counter() - item.seconds
                )
                continue
            elapsed = item.seconds + share
            judged[item.position] = [
                (tally.result(item.check, expect, item.element_count, elapsed), item.check, set())
                for tally, expect in zip(tallies, item.check.expectations, strict=True)
            ]
        return judged

    def _expectation(self, expect: Expect, meta: dict[str, int], prefix: str = "") -> Any:
        kwargs = dict(expect.kwargs)
        if expect.column is not None:
            kwargs["column"] = prefix + expect.column
        return getattr(self.gx.expectations, expect.kind)(meta=meta, **kwargs)

    def _validate(self, frame: pd.DataFrame, suite: Any, result_format: dict[str, Any]) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = self.batches.get_batch(batch_parameters={"dataframe": frame})
            return batch.validate(suite, result_format=result_format)

    def run(
        self,
        con: duckdb.DuckDBPyConnection,
        check: Check,
        element_count: int | None = None,
        started: float | None = None,
    ) -> list[tuple[CheckResult, Check, set[str]]]:
        """Every expectation of one check, judged by GX on the rows DuckDB says can fail.

        element_count: the rows checked, when already counted (else counted here).
        started: when the check's own work began (its seconds in `details`).
        """
        expectations = [
            self._expectation(expect, {"index": index})
            for index, expect in enumerate(check.expectations)
        ]
        suite = self.gx.ExpectationSuite(
            name=f"{check.suite}.{check.name}", expectations=expectations
        )
        totals = [_Tally() for _ in check.expectations]
        if started is None:
            started = time.perf_counter()
        try:
            count_sql = check.count_sql()
            # grain `failures`, not yet counted: the rows checked are the failing rows
            add_rows = element_count is None and count_sql is None
            if element_count is None:
                element_count = _count(con, count_sql) if count_sql else 0
            for frame in _frames(con, check.failing_rows_sql()):
                if add_rows:
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
                outcome = self._validate(frame, suite, result_format)
                for item in outcome.results:
                    totals[int(item.expectation_config.meta["index"])].add(item, check.attribute_by)
        except duckdb.Error as error:
            return _query_failed(check, error)
        elapsed = time.perf_counter() - started
        return [
            (tally.result(check, expect, element_count, elapsed), check, tally.keys)
            for tally, expect in zip(totals, check.expectations, strict=True)
        ]


@dataclass(frozen=True)
class _Found:
    """What DuckDB found for a check: rows checked, and the failing rows' columns when no
    row fails (None: some do)."""

    element_count: int
    schema: pa.Schema | None
    seconds: float


def _survey(con: duckdb.DuckDBPyConnection, checks: Sequence[Check]) -> list[_Found | duckdb.Error]:
    """`_Found` for each check (or the error its query raised), SURVEY_THREADS at a time.

    DuckDB releases the GIL while a query runs, and most checks read small tables on
    one core: two of them at once keep both cores busy beside the large ones.
    """
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def cursor() -> duckdb.DuckDBPyConnection:
        if not hasattr(local, "cursor"):
            with lock:
                local.cursor = con.cursor()
                cursors.append(local.cursor)
            local.cursor.execute("set search_path = 'build,main'").fetchall()
        return local.cursor

    def survey(check: Check) -> _Found | duckdb.Error:
        started = time.perf_counter()
        try:
            element_count, failing = _find(cursor(), check)
            schema = None if failing else _schema(cursor(), check.failing_rows_sql())
        except duckdb.Error as error:
            return error
        return _Found(element_count, schema, time.perf_counter() - started)

    try:
        with ThreadPoolExecutor(SURVEY_THREADS, thread_name_prefix="validation") as pool:
            return list(pool.map(survey, checks))
    finally:
        for each in cursors:
            each.close()


@dataclass(frozen=True)
class _Clean:
    """A check none of whose rows can fail: where it stands, its count, its columns."""

    position: int
    check: Check
    element_count: int
    schema: pa.Schema
    seconds: float


def _prefix(number: int) -> str:
    return f"check{number}__"


def _query_failed(check: Check, error: duckdb.Error) -> list[tuple[CheckResult, Check, set[str]]]:
    message = str(error).strip().splitlines()[0]
    return [
        (errored(check, expect, f"the check's query failed: {message}"), check, set())
        for expect in check.expectations
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


def _find(cursor: duckdb.DuckDBPyConnection, check: Check) -> tuple[int, int]:
    """(rows the check looks at, rows that can fail), with one pass over a `frame` grain."""
    tally = check.tally_sql()
    if tally is not None:
        ((rows, failing),) = cursor.execute(tally).fetchall()
        return int(rows), int(failing)
    failing = _fetch_count(cursor, f"select count(*) from (\n{check.failing_rows_sql()}\n)")
    count_sql = check.count_sql()
    return (_fetch_count(cursor, count_sql) if count_sql else failing), failing


def _fetch_count(cursor: duckdb.DuckDBPyConnection, sql: str) -> int:
    ((count,),) = cursor.execute(sql).fetchall()  # every row fetched: the cursor is reused
    return int(count)


def _schema(cursor: duckdb.DuckDBPyConnection, sql: str) -> pa.Schema:
    """The columns (Arrow types) a query returns, without running it (`limit 0`)."""
    return cursor.sql(f"select * from (\n{sql}\n) as query limit 0").to_arrow_table().schema


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
