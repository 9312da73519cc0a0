"""The monthly close as plain functions: load, build, validate, publish, workbooks.

The Prefect flow (`flows/close_flow.py`) calls these same steps as tasks; tests
and the benchmark call them directly so they don't pay for a Prefect server.
Each step opens the warehouse itself: a step is the unit a crash can stop
after, and only `publish` writes outside the `build` schema.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from closebook.engine import apply_settings, memory_limit_bytes, open_warehouse, remove_spill
from closebook.loading import InputFile, load_exports
from closebook.locking import duckdb_lock_message, warehouse_lock
from closebook.models import ClosePeriod, build_models, prepare_session
from closebook.progress import Reporter, Silent, StepDone
from closebook.publish import publish_period, table_exists
from closebook.warehouse_guard import WarehouseSchemaError, check_warehouse

ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_HELD_OR_REJECTED = 3
EXIT_PUBLISHED_WITHOUT_WORKBOOKS = 4


class CloseFailed(RuntimeError):
    """The close could not finish; the message is one line for the CLI."""


class PublishedWithoutWorkbooks(CloseFailed):
    """Exit 4: the warehouse holds the new period but its workbooks are the previous ones
    (the workbooks failed and putting the warehouse back failed too); the message says so."""


@dataclass(frozen=True)
class CloseContext:
    """Everything a step needs to know about the close it belongs to."""

    period: ClosePeriod
    input_dir: Path
    warehouse: Path
    reports_dir: Path
    as_of: date
    started_at: datetime
    memory_limit: int = field(default_factory=lambda: memory_limit_bytes(None))
    paper: str = "letter"  # the workbooks' paper size: letter or a4
    # GL account per journal line: closebook.toml [gl_accounts] beside the exports
    gl_accounts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        period: str,
        input_dir: Path,
        warehouse: Path,
        reports_dir: Path,
        as_of: date | None = None,
        memory_limit: str | None = None,
        paper: str = "letter",
    ) -> CloseContext:
        """The close's context; reads `closebook.toml` from the input folder, if there is one.

        memory_limit: DuckDB's budget (`4GiB`, `50%`); None = half of physical RAM.
        A bad config stops the close here, before anything is written.
        """
        from closebook.workbooks.journal import CONFIG_NAME, ConfigError, load_gl_accounts

        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        try:
            gl_accounts = load_gl_accounts(Path(input_dir) / CONFIG_NAME)
        except ConfigError as error:
            raise CloseFailed(str(error)) from None
        if paper not in ("letter", "a4"):
            raise CloseFailed(f"paper must be letter or a4, not {paper!r}")
        return cls(
            ClosePeriod.parse(period),
            Path(input_dir),
            Path(warehouse),
            Path(reports_dir),
            as_of or now.date(),
            now,
            memory_limit_bytes(memory_limit),
            paper,
            gl_accounts,
        )

    @property
    def period_reports(self) -> Path:
        return self.reports_dir / self.period.period


@dataclass
class CurrencyTotals:
    currency: str
    issued_count: int = 0
    issued_total: Decimal = Decimal("0")
    held_count: int = 0
    held_total: Decimal = Decimal("0")
    overage_total: Decimal = Decimal("0")


@dataclass
class CloseResult:
    """What a finished close reports: counts for the summary and the exit code."""

    period: str
    exit_code: int
    currencies: list[CurrencyTotals]
    rejected_rows: int
    duplicates: int
    workbooks: list[Path]
    validation_status: str
    validation_report: Path | None
    reconciliation_exceptions: int
    step_seconds: dict[str, float] = field(default_factory=dict)
    input_rows: int = 0
    by_type: list[dict[str, object]] = field(default_factory=list)
    reconciliation_by_status: dict[str, int] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        lines = [f"closebook close {self.period}: " + _exit_meaning(self.exit_code)]
        if not self.currencies:
            lines.append("  no invoices")
        for c in self.currencies:
            issued, held = (
                format_money(c.issued_total, c.currency),
                format_money(c.held_total, c.currency),
            )
            lines.append(
                f"  {c.currency}: {c.issued_count} issued ({issued}), "
                f"{c.held_count} held ({held}), "
                f"overage {format_money(c.overage_total, c.currency)}"
            )
        lines.append(
            f"  input rows: {self.input_rows:,} read, {self.rejected_rows:,} rejected, "
            f"{self.duplicates:,} exact duplicates (see table rejected_rows)"
        )
        lines.append(f"  validation: {self.validation_status}")
        if self.validation_report:
            lines.append(f"  validation report: {self.validation_report}")
        statuses = ", ".join(f"{n} {status}" for status, n in self.reconciliation_by_status.items())
        lines.append(
            f"  reconciliation exceptions: {self.reconciliation_exceptions}"
            + (f" ({statuses})" if statuses else " (no billed_invoices file)")
        )
        if self.workbooks:
            lines.append(f"  workbooks: {self.workbooks[0].parent}/")
        return lines


def _exit_meaning(code: int) -> str:
    if code == EXIT_OK:
        return "every invoice issued, no input row rejected"
    return "finished with held invoices or rejected input rows (exit 3)"


def format_money(amount: Decimal | str, currency: str) -> str:
    """Thousands separated, in the currency's minor unit (JPY has none)."""
    amount = Decimal(amount)
    return f"{amount:,.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{amount:,.2f}"


@contextmanager
def connect(
    warehouse: Path, memory_limit: int | None = None, ordered: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with the session settings the models expect.

    memory_limit: DuckDB's budget in bytes (None: the default share of RAM); it spills
    past it into a directory beside the warehouse, removed on close. ordered=False lets
    DuckDB drop physical row order (build and validation only: see closebook.engine).
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = open_warehouse(warehouse)
    except duckdb.Error as error:
        message = duckdb_lock_message(warehouse, error)
        if message:
            raise CloseFailed(message) from None
        raise CloseFailed(
            f"warehouse {warehouse} cannot be opened ({_first_line(error)}); "
            "give --warehouse a DuckDB file closebook wrote, or a new file name"
        ) from None
    except OSError as error:
        raise CloseFailed(
            f"warehouse {warehouse} cannot be opened ({error.strerror or error}); "
            "check the folder exists and this user may write it"
        ) from None
    try:
        con.execute("set TimeZone = 'UTC'")
        apply_settings(
            con,
            warehouse,
            memory_limit if memory_limit is not None else memory_limit_bytes(None),
            ordered=ordered,
        )
        prepare_session(con)
        yield con
    finally:
        con.close()
        remove_spill(warehouse)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def step_load(ctx: CloseContext) -> list[InputFile]:
    """Read the export folder into `build.raw_*` (all text, every row kept), once the
    warehouse's own tables are known to be closebook's (else stop, changing nothing)."""
    with connect(ctx.warehouse, ctx.memory_limit) as con:
        try:
            check_warehouse(con)
        except WarehouseSchemaError as error:
            raise CloseFailed(str(error)) from None
        return load_exports(con, ctx.input_dir)


def step_build(ctx: CloseContext) -> dict[str, float]:
    """Run every SQL model into `build.*`; returns seconds per model.

    great-expectations' import (seconds of pure Python) starts in a background thread
    first: DuckDB releases the GIL while it builds, so validation later finds it done.
    (Started with the load instead, it cost the load what it saved validation:
    docs/decisions/performance.md.)
    """
    from closebook.validation import warm_up

    warm_up()
    timings: dict[str, float] = {}
    with connect(ctx.warehouse, ctx.memory_limit, ordered=False) as con:
        build_models(con, ctx.period, ctx.as_of, timings=timings)
    return timings


def step_validate(ctx: CloseContext) -> tuple[str, Path | None]:
    """Run the expectation suites; hold what they attribute, fail the close otherwise."""
    from closebook.validation import validate_close

    with connect(ctx.warehouse, ctx.memory_limit) as con:
        result = validate_close(con, ctx.period.period, ctx.period_reports)
    if result.run_failed:
        raise CloseFailed(f"{result.one_line()}; see {result.report_path}")
    status = "passed" if not result.failed else f"failed: {len(result.failed)} checks"
    if result.held_invoices:
        status += f", {len(result.held_invoices)} invoices held"
    return status, result.report_path


def step_publish(ctx: CloseContext) -> dict[str, int]:
    """Replace the period in the warehouse tables, in one transaction."""
    with connect(ctx.warehouse, ctx.memory_limit) as con:
        try:
            return publish_period(con, ctx.period.period)
        except WarehouseSchemaError as error:
            raise CloseFailed(str(error)) from None


def step_workbooks(ctx: CloseContext, validation_status: str, report: Path | None) -> list[Path]:
    """Write the four workbooks from the warehouse, check them, then move them in.

    Warehouse and workbooks are one outcome: the workbooks are written and
    checked in a staging folder and moved in together (`workbooks.staging`); if
    that fails, the period's previous warehouse rows are put back
    (`publish.restore_previous`) and the close fails with exit 1, both as they
    were. Only when that restore itself fails does the close end in
    `PublishedWithoutWorkbooks` (exit 4), saying so.

    The workbooks are written by one process each (every core), reading the warehouse
    read-only: no connection of this process may be open meanwhile.
    """
    from closebook.workbooks import staging

    period = ctx.period.period
    staging.remove_stale(ctx.reports_dir, period)
    stage = staging.staging_folder(ctx.reports_dir, period)
    try:
        paths = _write_and_check_workbooks(ctx, stage, validation_status, report)
        return staging.swap_in(paths, ctx.period_reports, stage / "previous")
    except Exception as error:
        raise _restore_after_failed_workbooks(ctx, error) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _write_and_check_workbooks(
    ctx: CloseContext, stage: Path, validation_status: str, report: Path | None
) -> list[Path]:
    """The four workbooks in `stage/<period>/`, read back and compared with the warehouse."""
    from closebook.engine import available_cores
    from closebook.validation import record_external_check, write_report
    from closebook.workbooks import RunInfo, verify_workbooks, write_workbooks_in_parallel

    info = RunInfo(
        period=ctx.period.period,
        run_started_at=ctx.started_at,
        as_of=ctx.as_of,
        validation_status=validation_status,
        report_link=str(report) if report else None,
        paper=ctx.paper,
        gl_accounts=ctx.gl_accounts,
    )
    try:
        stage.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CloseFailed(
            f"cannot write workbooks under {ctx.reports_dir} ({error.strerror}); "
            "check that the reports folder is writable"
        ) from None
    paths = write_workbooks_in_parallel(
        ctx.warehouse,
        ctx.period.period,
        stage,
        info,
        workers=available_cores(),
        memory_limit=ctx.memory_limit,
    )
    with connect(ctx.warehouse, ctx.memory_limit) as con:
        problems = verify_workbooks(con, ctx.period.period, stage)
        # The workbooks exist only after publish: their check joins the period's
        # published validation results (and the report) there.
        record_external_check(
            con,
            ctx.period.period,
            "workbook_totals_equal_warehouse",
            not problems,
            "; ".join(problems[:5]),
            schema="main",
        )
        if report is not None:
            write_report(con, ctx.period.period, report.parent, schema="main")
    if problems:
        raise CloseFailed(f"workbooks disagree with the warehouse: {problems[0]}")
    return paths


def _restore_after_failed_workbooks(ctx: CloseContext, error: Exception) -> CloseFailed:
    """Put the period's previous warehouse rows back; the close's one-line error to raise."""
    from closebook.publish import restore_previous

    reason = one_line_error(error)
    try:
        with connect(ctx.warehouse, ctx.memory_limit) as con:
            restore_previous(con, ctx.period.period)
    except Exception as restore_error:  # noqa: BLE001 - the state is what the user needs
        message = (
            f"the warehouse holds the new results of {ctx.period.period} but its workbooks "
            f"in {ctx.period_reports} are the previous ones (workbooks failed: {reason}; "
            f"restoring the warehouse failed: {one_line_error(restore_error)}); "
            f"close {ctx.period.period} again"
        )
        _record_failure(ctx, EXIT_PUBLISHED_WITHOUT_WORKBOOKS, message)
        return PublishedWithoutWorkbooks(message)
    message = f"{reason}; the warehouse and the workbooks keep their previous results"
    _record_failure(ctx, EXIT_FAILED, message)
    return CloseFailed(message)


def _record_failure(ctx: CloseContext, exit_code: int, message: str) -> None:
    """A `close_runs` row for a close that failed after publish (best effort: the error
    line says the same, and a full disk may refuse this too)."""
    with contextlib.suppress(Exception):  # the one-line error already says it all
        _append_close_run(ctx, exit_code, message)


def summarize(
    ctx: CloseContext,
    workbooks: list[Path],
    validation_status: str,
    report: Path | None,
    step_seconds: dict[str, float],
) -> CloseResult:
    """Read the period back from the warehouse and decide the exit code (§5)."""
    period = ctx.period.period
    with connect(ctx.warehouse, ctx.memory_limit) as con:
        currencies: dict[str, CurrencyTotals] = {}
        for currency, status, count, total in con.execute(
            "select currency, status, count(*), sum(total) from main.invoices "
            "where period = ? group by all order by all",
            [period],
        ).fetchall():
            entry = currencies.setdefault(currency, CurrencyTotals(currency))
            if status == "issued":
                entry.issued_count, entry.issued_total = count, Decimal(total)
            else:
                entry.held_count, entry.held_total = count, Decimal(total)
        for currency, total in con.execute(
            "select currency, sum(total) from main.invoices "
            "where period = ? and invoice_type = 'overage' group by all",
            [period],
        ).fetchall():
            currencies.setdefault(currency, CurrencyTotals(currency)).overage_total = Decimal(total)
        read, rejected, duplicates = con.execute(
            "select coalesce(sum(rows_read), 0), coalesce(sum(rejected), 0), "
            "coalesce(sum(duplicates), 0) from main.load_counts where period = ?",
            [period],
        ).fetchone() or (0, 0, 0)
        by_type = [
            {
                "currency": currency,
                "invoice_type": invoice_type,
                "issued": issued,
                "issued_total": str(issued_total),
                "held": held,
                "held_total": str(held_total),
            }
            for currency, invoice_type, issued, issued_total, held, held_total in con.execute(
                "select currency, invoice_type, "
                "count(*) filter (where status = 'issued'), "
                "coalesce(sum(total) filter (where status = 'issued'), 0), "
                "count(*) filter (where status = 'held'), "
                "coalesce(sum(total) filter (where status = 'held'), 0) "
                "from main.invoices where period = ? group by all order by all",
                [period],
            ).fetchall()
        ]
        by_status: dict[str, int] = {}
        if table_exists(con, "main", "reconciliation"):
            by_status = dict(
                con.execute(
                    "select status, count(*) from main.reconciliation where period = ? "
                    "group by status order by status",
                    [period],
                ).fetchall()
            )
        exceptions = sum(n for status, n in by_status.items() if status != "matched")
    held = sum(c.held_count for c in currencies.values())
    exit_code = EXIT_HELD_OR_REJECTED if held or rejected else EXIT_OK
    return CloseResult(
        period=period,
        exit_code=exit_code,
        currencies=[currencies[k] for k in sorted(currencies)],
        rejected_rows=int(rejected),
        duplicates=int(duplicates),
        workbooks=workbooks,
        validation_status=validation_status,
        validation_report=report,
        reconciliation_exceptions=int(exceptions),
        step_seconds=step_seconds,
        input_rows=int(read),
        by_type=by_type,
        reconciliation_by_status=by_status,
    )


def record_run(ctx: CloseContext, result: CloseResult) -> None:
    """Append the run's metadata (the one place wall-clock time is kept)."""
    _append_close_run(ctx, result.exit_code, "\n".join(result.summary_lines()))


def _append_close_run(ctx: CloseContext, exit_code: int, summary: str) -> None:
    finished = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    with connect(ctx.warehouse, ctx.memory_limit) as con:
        con.execute(
            "create table if not exists main.close_runs (period varchar, started_at timestamp, "
            "finished_at timestamp, input_dir varchar, as_of date, exit_code integer, "
            "summary varchar)"
        )
        con.execute(
            "insert into main.close_runs values (?, ?, ?, ?, ?, ?, ?)",
            [
                ctx.period.period,
                ctx.started_at,
                finished,
                str(ctx.input_dir),
                ctx.as_of,
                exit_code,
                summary,
            ],
        )


def _input_rows(ctx: CloseContext, files: list[InputFile]) -> int:
    """Data rows the load read (the raw tables keep every row, unreadable ones apart)."""
    with connect(ctx.warehouse) as con:
        counted = sum(
            con.execute(f"select count(*) from build.raw_{f.table}").fetchone()[0] for f in files
        )
        unreadable = con.execute("select count(*) from build.raw_unreadable_rows").fetchone()[0]
    return int(counted + unreadable)


def _step_size(ctx: CloseContext, step: str, value: object) -> tuple[int | None, str]:
    """What a progress line says a step handled: rows read, models run, rows written."""
    if step == "load" and isinstance(value, list):
        return _input_rows(ctx, value), "rows read"
    if step == "build" and isinstance(value, dict):
        return len(value), "models"
    if step == "validate" and isinstance(value, tuple):
        return None, str(value[0])
    if step == "publish" and isinstance(value, dict):
        return sum(value.values()), "rows published"
    if step == "workbooks" and isinstance(value, list):
        return len(value), "workbooks"
    return None, ""


def run_step(
    ctx: CloseContext,
    step: str,
    func: Callable[..., object],
    *args: object,
    progress: Reporter | None = None,
    seconds: dict[str, float] | None = None,
) -> object:
    """Run one step, timing it and telling `progress` when it starts and finishes.

    The flow's tasks and `close_period` both go through here, so the terminal
    shows the same lines with or without Prefect.
    """
    progress = progress or Silent()
    progress.step_started(ctx.period.period, step)
    started = time.perf_counter()
    value = func(*args)
    elapsed = time.perf_counter() - started
    if seconds is not None:
        seconds[step] = elapsed
    if not isinstance(progress, Silent):
        rows, unit = _step_size(ctx, step, value)
        progress.step_finished(StepDone(ctx.period.period, step, rows, unit, elapsed))
    return value


def close_period(
    period: str,
    input_dir: Path,
    warehouse: Path,
    reports_dir: Path,
    as_of: date | None = None,
    progress: Reporter | None = None,
    memory_limit: str | None = None,
    paper: str = "letter",
) -> CloseResult:
    """Run a whole close without Prefect (tests, benchmark); same steps as the flow."""
    ctx = CloseContext.create(period, input_dir, warehouse, reports_dir, as_of, memory_limit, paper)
    seconds: dict[str, float] = {}

    def timed(name: str, func, *args):  # noqa: ANN001, ANN202 - tiny local helper
        return run_step(ctx, name, func, *args, progress=progress, seconds=seconds)

    with warehouse_lock(ctx.warehouse):
        timed("load", step_load, ctx)
        timed("build", step_build, ctx)
        status, report = timed("validate", step_validate, ctx)
        timed("publish", step_publish, ctx)
        workbooks = timed("workbooks", step_workbooks, ctx, status, report)
        result = summarize(ctx, workbooks, status, report, seconds)
        record_run(ctx, result)
    return result


def months_through(first: str, last: str) -> list[str]:
    """Every period from `first` to `last`, in order (a backfill closes them one by one)."""
    start, end = ClosePeriod.parse(first), ClosePeriod.parse(last)
    if end.start < start.start:
        raise CloseFailed(f"--through {last} is before --period {first}")
    periods, month = [], start.start
    while month <= end.start:
        periods.append(f"{month.year:04d}-{month.month:02d}")
        month = ClosePeriod.parse(periods[-1]).end
    return periods


def failure_exit_code(error: BaseException) -> int:
    """4 when the warehouse was published but the workbooks were not (and could not be
    undone), 1 for every other failure: nothing changed."""
    if isinstance(error, PublishedWithoutWorkbooks):
        return EXIT_PUBLISHED_WITHOUT_WORKBOOKS
    return EXIT_FAILED


def one_line_error(error: BaseException) -> str:
    """The CLI's error line: closebook's own errors as they are, anything else with its type."""
    from closebook.loading import LoadError
    from closebook.locking import WarehouseBusy

    if isinstance(error, (LoadError, CloseFailed, WarehouseBusy)):
        return str(error)
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"
