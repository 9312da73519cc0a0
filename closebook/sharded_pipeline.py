"""The sharded close as plain functions: the build step split into shards.

Load, validate, publish and the workbooks are `closebook.pipeline`'s own steps;
only the build differs: partition the loaded rows, bill each shard (on any
executor: Dask workers through Prefect, or this process), merge, and run the
global models once. The warehouse's `main` schema is untouched until publish,
so a failing shard fails the close with one line and leaves every earlier
period as it was; the shards' work folder is removed either way.
"""

from __future__ import annotations

import time
from pathlib import Path

from closebook import pipeline, sharding
from closebook.locking import warehouse_lock
from closebook.pipeline import CloseContext, CloseFailed, CloseResult
from closebook.sharding import ShardFailed, ShardMapper, ShardResult, ShardSpec


def step_partition(ctx: CloseContext, shards: int) -> list[ShardSpec]:
    """Write the loaded rows as one Parquet partition per shard, beside the warehouse."""
    with pipeline.connect(ctx.warehouse, ctx.memory_limit) as con:
        return sharding.partition_exports(
            con, sharding.work_dir_for(ctx.warehouse), shards, ctx.period.period, ctx.as_of
        )


def step_merge(ctx: CloseContext, specs: list[ShardSpec]) -> dict[str, float]:
    """Union the shards' models into `build` and run the global models over them."""
    timings: dict[str, float] = {}
    with pipeline.connect(ctx.warehouse, ctx.memory_limit) as con:
        sharding.merge_shards(con, specs)
        sharding.build_global_models(con, ctx.period, ctx.as_of, timings=timings)
    return timings


def step_build_sharded(ctx: CloseContext, shards: int, mapper: ShardMapper) -> list[ShardResult]:
    """Partition, bill every shard with `mapper`, merge; the work folder never outlives it."""
    work_dir = sharding.work_dir_for(ctx.warehouse)
    try:
        specs = step_partition(ctx, shards)
        try:
            results = mapper(specs)
        except ShardFailed as error:
            raise CloseFailed(str(error)) from None
        step_merge(ctx, specs)
        return results
    finally:
        sharding.remove_work_dir(work_dir)


def close_period_sharded(
    period: str,
    input_dir: Path,
    warehouse: Path,
    reports_dir: Path,
    as_of=None,  # noqa: ANN001 - date | None, as close_period
    shards: int = 2,
    mapper: ShardMapper = sharding.run_shards_here,
) -> CloseResult:
    """A whole sharded close without Prefect: `close_period` with the build sharded."""
    ctx = CloseContext.create(period, input_dir, warehouse, reports_dir, as_of)
    seconds: dict[str, float] = {}

    def timed(name: str, func, *args):  # noqa: ANN001, ANN202 - tiny local helper
        started = time.perf_counter()
        value = func(*args)
        seconds[name] = time.perf_counter() - started
        return value

    with warehouse_lock(ctx.warehouse):
        timed("load", pipeline.step_load, ctx)
        timed("build", step_build_sharded, ctx, shards, mapper)
        status, report = timed("validate", pipeline.step_validate, ctx)
        timed("publish", pipeline.step_publish, ctx)
        workbooks = timed("workbooks", pipeline.step_workbooks, ctx, status, report)
        result = pipeline.summarize(ctx, workbooks, status, report, seconds)
        pipeline.record_run(ctx, result)
    return result
