"""Benchmark the sharded build: the same exports billed in 1, 2, 4... shards on Dask.

Why: docs/scale-out.md projects a 10M-account close on a real cluster from what
one shard costs here (rows per second per worker, memory per worker), so the
figures must be measured, not guessed. The exports come from `scripts/bench.py`'s
generator (same cache, same arguments). The close's load runs once; then, for
each shard count, the sharded build (partition, shards on a `LocalCluster` of
`--workers` processes with one thread each, merge and the global models) runs
and is timed, against the one-process build for reference. Validation, publish
and workbooks do not depend on the shard count: they run once, at the end.

    python scripts/bench_shards.py --accounts 100000 --shards 1,2,4 --workers 2

Shards run through Dask directly (`client.map`), not through Prefect: this
measures the engine; Prefect adds its per-task bookkeeping on top.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _bench_module():  # noqa: ANN202 - scripts/bench.py, for its generator and cache
    spec = importlib.util.spec_from_file_location("closebook_bench", ROOT / "scripts/bench.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--shards", default="1,2,4", help="shard counts, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--worker-threads", type=int, default=1, help="DuckDB threads a shard uses")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", default="2026-09,2026-10")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--snapshots-per-month", type=int, default=100)
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-global", action="store_true", help="stop after the builds")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the one-process build (reference)"
    )
    args = parser.parse_args(argv)

    from dataclasses import replace

    from distributed import Client, LocalCluster

    from closebook import pipeline
    from closebook.pipeline import CloseContext
    from closebook.sharded_pipeline import step_build_sharded
    from closebook.sharding import run_shard

    bench = _bench_module()
    period = args.months.split(",")[-1].strip()
    y, m = (int(x) for x in period.split("-"))
    as_of = date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) + timedelta(days=30)
    args.workdir.mkdir(parents=True, exist_ok=True)
    tag = f"{args.accounts}-s{args.seed}-{args.months.replace(',', '_')}-{args.format}"
    if args.clean:
        tag += "-clean"
    exports = args.workdir / f"exports-{tag}"
    rows, _, _ = bench.generate(args, exports)
    input_rows = sum(rows.values())
    warehouse = args.workdir / f"warehouse-shards-{tag}.duckdb"
    for stale in (warehouse, warehouse.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    ctx = CloseContext.create(period, exports, warehouse, args.workdir / "reports-shards", as_of)

    lines = [
        f"### {args.accounts:,} accounts, {input_rows:,} input rows, close {period}: "
        f"sharded build on a LocalCluster of {args.workers} processes x 1 thread",
        "",
        "| build | wall | partition | shards on workers (wall) | merge + global models | "
        "shard tasks (sum) | rows/s per shard task (mean) | worker peak RSS (max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    record: dict[str, object] = {"accounts": args.accounts, "input_rows": input_rows, "runs": []}

    started = time.perf_counter()
    pipeline.step_load(ctx)
    load_seconds = time.perf_counter() - started
    print(f"  load: {load_seconds:.1f} s", file=sys.stderr, flush=True)

    single = 0.0
    if not args.no_reference:
        started = time.perf_counter()
        pipeline.step_build(ctx)
        single = time.perf_counter() - started
        print(f"  one-process build: {single:.1f} s", file=sys.stderr, flush=True)
        lines.append(f"| one process (reference) | {single:.1f} s | - | - | - | - | - | - |")

    with (
        LocalCluster(
            n_workers=args.workers,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        for shards in (int(s) for s in args.shards.split(",")):
            client.restart()  # fresh worker processes: each run's peak RSS is its own

            mapped: dict[str, float] = {}

            def on_cluster(specs, client=client, mapped=mapped):  # noqa: ANN001, ANN202
                specs = [replace(s, threads=args.worker_threads) for s in specs]
                mapped["began"] = time.perf_counter()
                out = client.gather(client.map(run_shard, specs, pure=False))
                mapped["ended"] = time.perf_counter()
                return out

            started = time.perf_counter()
            results = step_build_sharded(ctx, shards, on_cluster)
            wall = time.perf_counter() - started
            task_seconds = sum(r.seconds for r in results)
            rates = [r.input_rows / r.seconds for r in results if r.seconds]
            peak = max(r.peak_rss_mb for r in results)
            print(f"  {shards} shards: {wall:.1f} s", file=sys.stderr, flush=True)
            partition = mapped["began"] - started
            on_workers = mapped["ended"] - mapped["began"]
            merge = wall - (mapped["ended"] - started)
            lines.append(
                f"| {shards} shards | {wall:.1f} s | {partition:.1f} s | {on_workers:.1f} s "
                f"| {merge:.1f} s | {task_seconds:.1f} s | {sum(rates) / len(rates):,.0f} "
                f"| {peak:,.0f} MiB |"
            )
            record["runs"].append(  # type: ignore[union-attr]
                {
                    "shards": shards,
                    "wall": wall,
                    "partition": partition,
                    "on_workers": on_workers,
                    "merge_and_global": merge,
                    "shards_detail": [r.__dict__ for r in results],
                }
            )
    lines += ["", f"load (once, before every build): {load_seconds:.1f} s"]
    if not args.skip_global:
        steps = {}
        for name, func, params in (
            ("validate", pipeline.step_validate, ()),
            ("publish", pipeline.step_publish, ()),
        ):
            started = time.perf_counter()
            value = func(ctx, *params)
            steps[name] = time.perf_counter() - started
            if name == "validate":
                status = value
        started = time.perf_counter()
        pipeline.step_workbooks(ctx, *status)
        steps["workbooks"] = time.perf_counter() - started
        lines.append(
            "global steps (once, whatever the shard count): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
        )
        record["global_steps"] = steps
    record["load"] = load_seconds
    record["one_process_build"] = single
    print("\n".join(lines))
    (args.workdir / f"bench-shards-{tag}.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
