"""The monthly close as a Prefect 3 flow: load, build, validate, publish, workbooks.

Each task is a step of `closebook.pipeline`; the flow adds what Prefect is for:
a run named for its period, its steps logged at INFO in the run's log, a
`Needs review` end state when invoices were held or rows rejected, retries only
for failures that can heal, one lock for the whole run, the run's summary
published as artifacts, and backfills (several months, one run).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from closebook.settings import apply_defaults

apply_defaults()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.client.schemas.objects import (  # noqa: E402
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
)
from prefect.client.schemas.schedules import CronSchedule  # noqa: E402
from prefect.deployments.runner import RunnerDeployment  # noqa: E402
from prefect.states import Completed, Failed, State  # noqa: E402

import closebook  # noqa: E402
from closebook import pipeline, progress  # noqa: E402
from closebook.loading import LoadError  # noqa: E402
from closebook.locking import WarehouseBusy, warehouse_lock  # noqa: E402
from closebook.models import PeriodError  # noqa: E402
from closebook.pipeline import CloseContext, CloseFailed, CloseResult  # noqa: E402
from closebook.progress import StepDone  # noqa: E402

SCHEDULE_CRON = "0 6 3 * *"
NEEDS_REVIEW = "Needs review"
# The bundled sample (in a source checkout, where `make demo` reads it).
SAMPLE_DIR = Path(closebook.__file__).resolve().parent.parent / "data" / "sample"

# Task timeouts: about ten times the step at 100k accounts in docs/benchmarks.md
# (load 12.8 s, build 43.6 s, validate 23.9 s, publish 1.7 s, workbooks 72.2 s),
# rounded up. A step past its timeout has hung (a stuck network share, a lock),
# it is not merely big; the run fails with the step named instead of waiting forever.
TIMEOUTS = {"load": 300, "build": 900, "validate": 600, "publish": 300, "workbooks": 1200}

# Failures that no retry can heal: the exports are wrong, a check failed, the
# warehouse is held by another close. Retrying them only delays the one-line error.
DETERMINISTIC = (LoadError, CloseFailed, WarehouseBusy, PeriodError, FileNotFoundError)


def previous_month(today: date | None = None) -> str:
    """The period a scheduled run on the 3rd closes: the month before today (UTC)."""
    today = today or datetime.now(UTC).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def can_heal(task: object, task_run: object, state: State) -> bool:
    """Retry only what can heal (a file share that blinked); never the project's own errors."""
    error = state.data if isinstance(state.data, BaseException) else None
    return not isinstance(error, DETERMINISTIC)


class RunLog:
    """The progress lines, written to the Prefect run's log at INFO (seen in the UI)."""

    def step_started(self, period: str, step: str) -> None:
        get_run_logger().info("%s: %s started", period, step)

    def step_finished(self, done: StepDone) -> None:
        get_run_logger().info("%s", done.line())

    def note(self, text: str) -> None:
        get_run_logger().info("%s", text)


def _step(ctx: CloseContext, step: str, func, *args):  # noqa: ANN001, ANN202 - thin wrapper
    """Run a pipeline step, telling both the terminal and the run log."""
    reporter = progress.Fanout(progress.current(), RunLog())
    return pipeline.run_step(ctx, step, func, *args, progress=reporter)


# Reading exports is safe to retry (it writes only the build schema), and only when
# the failure can heal (`can_heal`); nothing else is retried: a retried publish could
# never bill twice (it replaces the period), but a failure there is a bug or a full
# disk, which a retry would only hide.
@task(
    name="load-exports",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=can_heal,
    timeout_seconds=TIMEOUTS["load"],
    cache_policy=NO_CACHE,
)
def load_exports_task(ctx: CloseContext) -> int:
    """Read every export file into the warehouse's build schema."""
    return len(_step(ctx, "load", pipeline.step_load, ctx))


@task(name="build-models", timeout_seconds=TIMEOUTS["build"], cache_policy=NO_CACHE)
def build_models_task(ctx: CloseContext) -> dict[str, float]:
    """Run the SQL models in dependency order."""
    return _step(ctx, "build", pipeline.step_build, ctx)


@task(name="validate", timeout_seconds=TIMEOUTS["validate"], cache_policy=NO_CACHE)
def validate_task(ctx: CloseContext) -> tuple[str, Path | None]:
    """Run the expectation suites; hold or fail on what they find."""
    return _step(ctx, "validate", pipeline.step_validate, ctx)


@task(name="publish", timeout_seconds=TIMEOUTS["publish"], cache_policy=NO_CACHE)
def publish_task(ctx: CloseContext) -> dict[str, int]:
    """Replace the period in the warehouse in one transaction."""
    return _step(ctx, "publish", pipeline.step_publish, ctx)


@task(name="write-workbooks", timeout_seconds=TIMEOUTS["workbooks"], cache_policy=NO_CACHE)
def workbooks_task(ctx: CloseContext, status: str, report: Path | None) -> list[Path]:
    """Write and verify the four workbooks."""
    return _step(ctx, "workbooks", pipeline.step_workbooks, ctx, status, report)


def _relative(path: Path, reports_dir: Path) -> str:
    """A path as seen from the reports folder, so it means the same on any machine."""
    try:
        return path.resolve().relative_to(reports_dir.resolve()).as_posix()
    except ValueError:
        return path.name


def publish_artifacts(result: CloseResult, reports_dir: Path) -> None:
    """Say in the Prefect UI what the run did, without opening a file.

    Amounts are written in the currency's minor unit (JPY without decimals);
    files are named relative to the reports folder, which is named with the
    machine it is on: a `file://` link works only on the machine that ran the close.
    """
    create_table_artifact(
        key=f"close-totals-{result.period}",
        table=[
            {
                **row,
                "issued_total": pipeline.format_money(row["issued_total"], str(row["currency"])),
                "held_total": pipeline.format_money(row["held_total"], str(row["currency"])),
            }
            for row in result.by_type
        ],
        description=f"Invoices of {result.period} per currency and invoice type",
    )
    statuses = [f"| {status} | {n} |" for status, n in result.reconciliation_by_status.items()]
    files = [f"- `{_relative(p, reports_dir)}`" for p in result.workbooks]
    if result.validation_report:
        files.append(f"- `{_relative(result.validation_report, reports_dir)}` (validation report)")
    create_markdown_artifact(
        key=f"close-summary-{result.period}",
        markdown="\n".join(
            [
                "# " + result.summary_lines()[0],
                "",
                "```",
                *result.summary_lines()[1:],
                "```",
                "",
                "## Reconciliation",
                "",
                "| status | rows |",
                "|---|---|",
                *statuses,
                "",
                "## Workbooks and report",
                "",
                f"In the reports folder `{reports_dir.resolve()}` on `{socket.gethostname()}`:",
                "",
                *files,
            ]
        ),
        description=f"Close of {result.period}",
    )


def final_state(result: CloseResult) -> State:
    """Completed for a clean close; a Completed named `Needs review` (exit 3) with the counts."""
    if result.exit_code == pipeline.EXIT_OK:
        return Completed(message=result.summary_lines()[0], data=result)
    held = sum(c.held_count for c in result.currencies)
    message = f"{held:,} invoices held, {result.rejected_rows:,} input rows rejected"
    return Completed(name=NEEDS_REVIEW, message=message, data=result)


def _refuse_unsafe_inputs(input_dir: str) -> None:
    """A deployment's run never closes the bundled sample, nor a path relative to a worker."""
    from prefect.runtime import deployment

    if not deployment.id:
        return
    if not Path(input_dir).is_absolute():
        raise CloseFailed(f"input_dir '{input_dir}' is not an absolute path; deploy with one")
    if Path(input_dir).resolve() == SAMPLE_DIR:
        raise CloseFailed(f"input_dir {input_dir} is the bundled sample, not real exports")


def _announce(text: str) -> None:
    """The run's UI address on the terminal, when there is a UI to open."""
    from prefect.runtime import flow_run

    from closebook.flows.temporary_server import owns_server

    url = flow_run.ui_url
    if url and not owns_server():
        progress.current().note(f"{text}: {url}")


def _run_name() -> str:
    """Runs are named for the period they close: close-2026-10."""
    from prefect.runtime import flow_run

    return f"close-{flow_run.parameters.get('period') or previous_month()}"


@flow(name="monthly-close", flow_run_name=_run_name, log_prints=True)
def close_flow(
    input_dir: str,
    period: str | None = None,
    warehouse: str = "data/warehouse.duckdb",
    reports_dir: str = "reports",
    as_of: str | None = None,
    memory_limit: str | None = None,
    paper: str = "letter",
) -> CloseResult:
    """Close one month; with no period, the month before today (the scheduled run).

    `input_dir` has no default: a run started with defaults must not close the
    bundled sample into a real warehouse.
    """
    _refuse_unsafe_inputs(input_dir)
    ctx = CloseContext.create(
        period or previous_month(),
        Path(input_dir),
        Path(warehouse),
        Path(reports_dir),
        date.fromisoformat(as_of) if as_of else None,
        memory_limit,
        paper,
    )
    _announce(f"flow run close-{ctx.period.period}")
    get_run_logger().info(
        "closing %s from %s into %s", ctx.period.period, ctx.input_dir, ctx.warehouse
    )
    with warehouse_lock(ctx.warehouse):
        load_exports_task(ctx)
        build_models_task(ctx)
        status, report = validate_task(ctx)
        publish_task(ctx)
        workbooks = workbooks_task(ctx, status, report)
        result = pipeline.summarize(ctx, workbooks, status, report, {})
        pipeline.record_run(ctx, result)
    publish_artifacts(result, ctx.reports_dir)
    for line in result.summary_lines():
        get_run_logger().info("%s", line)
    return final_state(result)  # type: ignore[return-value] - Prefect returns its data


@dataclass
class Backfill:
    """The months a backfill closed, in order, and the one that stopped it (if any)."""

    results: list[CloseResult] = field(default_factory=list)
    failed_period: str | None = None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """The worst month's: 1 if a month failed, else 3 if any needs review, else 0."""
        if self.error is not None:
            return pipeline.EXIT_FAILED
        return max((r.exit_code for r in self.results), default=pipeline.EXIT_OK)


def _backfill_name() -> str:
    from prefect.runtime import flow_run

    return f"close-{flow_run.parameters['period']}..{flow_run.parameters['through']}"


@flow(name="close-months", flow_run_name=_backfill_name, log_prints=True)
def backfill_flow(
    input_dir: str,
    period: str,
    through: str,
    warehouse: str = "data/warehouse.duckdb",
    reports_dir: str = "reports",
    as_of: str | None = None,
    memory_limit: str | None = None,
    paper: str = "letter",
) -> Backfill:
    """Close `period` through `through` in order, each month a `monthly-close` subflow.

    Each month publishes on its own, so a month that fails stops the backfill
    and leaves the months before it closed.
    """
    _refuse_unsafe_inputs(input_dir)
    _announce(f"flow run close-{period}..{through}")
    backfill = Backfill()
    logger = get_run_logger()
    for month in pipeline.months_through(period, through):
        try:
            result = close_flow(
                input_dir=input_dir,
                period=month,
                warehouse=warehouse,
                reports_dir=reports_dir,
                as_of=as_of,
                memory_limit=memory_limit,
                paper=paper,
            )
        except Exception as error:  # noqa: BLE001 - the month's own run keeps the traceback
            backfill.failed_period = month
            backfill.error = pipeline.one_line_error(error)
            logger.error("%s failed: %s; the months before it stay closed", month, backfill.error)
            return Failed(message=f"{month}: {backfill.error}", data=backfill)  # type: ignore[return-value]
        backfill.results.append(result)
    held = [r.period for r in backfill.results if r.exit_code != pipeline.EXIT_OK]
    if held:
        return Completed(  # type: ignore[return-value]
            name=NEEDS_REVIEW, message=f"needs review: {', '.join(held)}", data=backfill
        )
    return Completed(message=f"closed {period}..{through}", data=backfill)  # type: ignore[return-value]


def deployment_parameters(
    input_dir: str | Path, warehouse: str | Path, reports_dir: str | Path
) -> dict[str, str]:
    """The deployment's paths, absolute (a worker's working folder is not the deployer's);
    the bundled sample is refused: a scheduled close must read real exports."""
    folder = Path(input_dir).expanduser().resolve()
    if folder == SAMPLE_DIR:
        raise CloseFailed(f"{input_dir} is the bundled sample; deploy with the real exports folder")
    return {
        "input_dir": str(folder),
        "warehouse": str(Path(warehouse).expanduser().resolve()),
        "reports_dir": str(Path(reports_dir).expanduser().resolve()),
    }


def monthly_deployment(
    input_dir: str | Path, warehouse: str | Path, reports_dir: str | Path
) -> RunnerDeployment:
    """The scheduled close: 06:00 UTC on the 3rd (invoices are dated the 3rd, §2.4),
    closing the previous month (the flow's default period). One run at a time: the
    deployment is bound to one warehouse, and a second run waits in the queue
    (ENQUEUE) instead of failing on the warehouse lock."""
    return close_flow.to_deployment(
        name="monthly-close",
        schedules=[CronSchedule(cron=SCHEDULE_CRON, timezone="UTC")],
        parameters=deployment_parameters(input_dir, warehouse, reports_dir),
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        ),
        description="Close the previous month of usage billing.",
    )
