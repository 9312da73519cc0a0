"""The monthly close sharded by account on a Dask cluster, through Prefect.

The same flow as `close_flow` (load, build, validate, publish, workbooks)
but its build is split: the loaded rows are partitioned by account
(`closebook.sharding`), one `bill-shard` task per shard runs on a Dask worker
(`prefect-dask`'s `DaskTaskRunner`), and the driver merges their results and
runs the global models. Either an existing cluster (`address`,
`tcp://host:8786`) or a `LocalCluster` of `local_workers` worker processes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from closebook.settings import apply_defaults

apply_defaults()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from closebook import pipeline, sharding  # noqa: E402
from closebook.flows.close_flow import (  # noqa: E402
    load_exports_task,
    previous_month,
    publish_artifacts,
    publish_task,
    validate_task,
    workbooks_task,
)
from closebook.locking import warehouse_lock  # noqa: E402
from closebook.pipeline import CloseContext, CloseResult  # noqa: E402
from closebook.sharded_pipeline import step_build_sharded  # noqa: E402
from closebook.sharding import ShardResult, ShardSpec  # noqa: E402


def dask_task_runner(address: str | None = None, local_workers: int | None = None):  # noqa: ANN201
    """A `DaskTaskRunner` for an existing scheduler, or a LocalCluster of worker processes
    (one thread each: a shard's DuckDB uses the worker's cores itself)."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": local_workers or 2,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
        },
    )


# Never retried: a shard is cheap to rerun as part of a whole new close, and a retry
# would hide a bad partition (the close fails as a whole instead).
@task(name="bill-shard", cache_policy=NO_CACHE)
def bill_shard_task(spec: ShardSpec) -> ShardResult:
    """Load one shard's partition into the worker's own DuckDB and bill its accounts."""
    return sharding.run_shard(spec)


def _map_on_task_runner(specs: list[ShardSpec]) -> list[ShardResult]:
    """Submit every shard to the flow's task runner (the Dask cluster) and wait for all;
    the first failure fails the close (the other shards' results are discarded)."""
    futures = bill_shard_task.map(specs)
    futures.wait()
    return [future.result() for future in futures]


def _run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return f"close-{params.get('period') or previous_month()}-{params.get('shards')}-shards"


@flow(name="sharded-close", flow_run_name=_run_name, log_prints=True)
def sharded_close_flow(
    period: str | None = None,
    input_dir: str = "data/sample",
    warehouse: str = "data/warehouse.duckdb",
    reports_dir: str = "reports",
    as_of: str | None = None,
    shards: int = 2,
) -> CloseResult:
    """Close one month with the billing sharded by account over the flow's Dask cluster."""
    ctx = CloseContext.create(
        period or previous_month(),
        Path(input_dir),
        Path(warehouse),
        Path(reports_dir),
        date.fromisoformat(as_of) if as_of else None,
    )
    with warehouse_lock(ctx.warehouse):
        load_exports_task(ctx)
        # Not a task itself: the shard tasks are submitted from the flow, to its runner.
        step_build_sharded(ctx, shards, _map_on_task_runner)
        status, report = validate_task(ctx)
        publish_task(ctx)
        workbooks = workbooks_task(ctx, status, report)
        result = pipeline.summarize(ctx, workbooks, status, report, {})
        pipeline.record_run(ctx, result)
    publish_artifacts(result, ctx.reports_dir)
    return result


def run_sharded_close(
    *,
    period: str,
    input_dir: str,
    warehouse: str,
    reports_dir: str,
    as_of: str | None,
    shards: int,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> CloseResult:
    """The flow with its Dask task runner chosen at call time (the CLI's entry point)."""
    runner = dask_task_runner(dask_address, dask_local_workers)
    return sharded_close_flow.with_options(task_runner=runner)(
        period=period,
        input_dir=input_dir,
        warehouse=warehouse,
        reports_dir=reports_dir,
        as_of=as_of,
        shards=shards,
    )
