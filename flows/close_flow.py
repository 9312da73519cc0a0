"""The monthly close as a Prefect 3 flow: load, build, validate, publish, workbooks.

Each task is a step of `closebook.pipeline`; the flow adds what Prefect is for:
a run named for its period, retries where they are safe (reading exports),
one lock for the whole run, and the run's summary published as artifacts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from closebook.settings import apply_defaults

apply_defaults()

from prefect import flow, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.client.schemas.schedules import CronSchedule  # noqa: E402
from prefect.deployments.runner import RunnerDeployment  # noqa: E402

from closebook import pipeline  # noqa: E402
from closebook.locking import warehouse_lock  # noqa: E402
from closebook.pipeline import CloseContext, CloseResult  # noqa: E402

SCHEDULE_CRON = "0 6 3 * *"


def previous_month(today: date | None = None) -> str:
    """The period a scheduled run on the 3rd closes: the month before today (UTC)."""
    today = today or datetime.now(UTC).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


# Reading exports is safe to retry (it writes only the build schema); nothing else is
# retried: a retried publish could never bill twice (it replaces the period), but a
# failure there is a bug or a full disk, which a retry would only hide.
@task(name="load-exports", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def load_exports_task(ctx: CloseContext) -> int:
    """Read every export file into the warehouse's build schema."""
    return len(pipeline.step_load(ctx))


@task(name="build-models", cache_policy=NO_CACHE)
def build_models_task(ctx: CloseContext) -> dict[str, float]:
    """Run the SQL models in dependency order."""
    return pipeline.step_build(ctx)


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(ctx: CloseContext) -> tuple[str, Path | None]:
    """Run the expectation suites; hold or fail on what they find."""
    return pipeline.step_validate(ctx)


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(ctx: CloseContext) -> dict[str, int]:
    """Replace the period in the warehouse in one transaction."""
    return pipeline.step_publish(ctx)


@task(name="write-workbooks", cache_policy=NO_CACHE)
def workbooks_task(ctx: CloseContext, status: str, report: Path | None) -> list[Path]:
    """Write and verify the four workbooks."""
    return pipeline.step_workbooks(ctx, status, report)


def publish_artifacts(result: CloseResult) -> None:
    """Say in the Prefect UI what the run did, without opening a file."""
    create_table_artifact(
        key=f"close-totals-{result.period}",
        table=result.by_type,
        description=f"Invoices of {result.period} per currency and invoice type",
    )
    statuses = [f"| {status} | {n} |" for status, n in result.reconciliation_by_status.items()]
    links = [f"- [{p.name}]({p.resolve().as_uri()})" for p in result.workbooks]
    if result.validation_report:
        links.append(f"- [validation report]({result.validation_report.resolve().as_uri()})")
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
                *links,
            ]
        ),
        description=f"Close of {result.period}",
    )


def _run_name() -> str:
    """Runs are named for the period they close: close-2026-10."""
    from prefect.runtime import flow_run

    return f"close-{flow_run.parameters.get('period') or previous_month()}"


@flow(name="monthly-close", flow_run_name=_run_name, log_prints=True)
def close_flow(
    period: str | None = None,
    input_dir: str = "data/sample",
    warehouse: str = "data/warehouse.duckdb",
    reports_dir: str = "reports",
    as_of: str | None = None,
    paper: str = "letter",
) -> CloseResult:
    """Close one month; with no period, the month before today (the scheduled run)."""
    ctx = CloseContext.create(
        period or previous_month(),
        Path(input_dir),
        Path(warehouse),
        Path(reports_dir),
        date.fromisoformat(as_of) if as_of else None,
        paper,
    )
    with warehouse_lock(ctx.warehouse):
        load_exports_task(ctx)
        build_models_task(ctx)
        status, report = validate_task(ctx)
        publish_task(ctx)
        workbooks = workbooks_task(ctx, status, report)
        result = pipeline.summarize(ctx, workbooks, status, report, {})
        pipeline.record_run(ctx, result)
    publish_artifacts(result)
    return result


def monthly_deployment(input_dir: str, warehouse: str, reports_dir: str) -> RunnerDeployment:
    """The scheduled close: 06:00 UTC on the 3rd (invoices are dated the 3rd, §2.4),
    closing the previous month (the flow's default period)."""
    return close_flow.to_deployment(
        name="monthly-close",
        schedules=[CronSchedule(cron=SCHEDULE_CRON, timezone="UTC")],
        parameters={"input_dir": input_dir, "warehouse": warehouse, "reports_dir": reports_dir},
        description="Close the previous month of usage billing.",
    )
