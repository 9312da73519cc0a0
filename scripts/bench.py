"""Benchmark a close on synthetic exports: how long each step takes, and how much it holds.

Why: finance closes on whatever laptop or CI box is at hand, so we want to know
(and keep knowing, as the models change) where the time goes at 1k, 10k and
100k accounts. The exports are generated first, in a child process, and timed
separately: generation is not part of the close. The close then runs through
the plain-function pipeline (`closebook.pipeline.close_period`, no Prefect), and
the script prints a Markdown table ready for docs/benchmarks.md.

    python scripts/bench.py --accounts 10000 --seed 7 --months 2026-09,2026-10 \\
        --period 2026-10 --workdir .bench/

Peak RSS is `getrusage(RUSAGE_SELF).ru_maxrss`: the peak of this whole
process (imports, DuckDB, every step), not of one step. Generation runs in a
child, so its peak is reported on its own (`RUSAGE_CHILDREN`).
`--profile-build` re-runs the build once more afterwards with per-model
timings and writes DuckDB's `EXPLAIN ANALYZE` of the slowest models to the
workdir; that second build is not part of the close timings.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = ("load", "build", "validate", "publish", "workbooks")


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate(args: argparse.Namespace, exports: Path) -> tuple[dict[str, int], float, int]:
    """Write the exports in a child process (reused when the same arguments made them)."""
    marker = exports.with_suffix(".json")
    wanted = {
        "accounts": args.accounts,
        "seed": args.seed,
        "months": args.months,
        "format": args.format,
        "snapshots_per_month": args.snapshots_per_month,
        "clean": args.clean,
    }
    if marker.exists() and not args.regenerate:
        saved = json.loads(marker.read_text())
        if saved["args"] == wanted and exports.is_dir():
            return saved["rows"], saved["seconds"], saved["peak_rss_kib"]
    if exports.exists():
        shutil.rmtree(exports)
    command = [
        sys.executable,
        "-m",
        "scripts.sample_data",
        "--out",
        str(exports),
        "--accounts",
        str(args.accounts),
        "--months",
        args.months,
        "--seed",
        str(args.seed),
        "--format",
        args.format,
    ]
    if args.snapshots_per_month:
        command += ["--snapshots-per-month", str(args.snapshots_per_month)]
    if args.clean:
        command.append("--clean")
    started = time.perf_counter()
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = {}
    for line in output.splitlines():
        name, count = line.split("\t")
        rows[name.rsplit(".", 1)[0]] = int(count)
    marker.write_text(
        json.dumps({"args": wanted, "rows": rows, "seconds": seconds, "peak_rss_kib": peak})
    )
    return rows, seconds, peak


def profile_build(warehouse: Path, period: str, as_of: date, out: Path, top: int) -> list:
    """Re-run every model with timings; EXPLAIN ANALYZE the slowest into `out`."""
    import duckdb

    from closebook.models import ClosePeriod, build_models, discover_models
    from closebook.pipeline import connect

    timings: dict[str, float] = {}
    with connect(warehouse) as con:
        build_models(con, ClosePeriod.parse(period), as_of, timings=timings)
        slowest = sorted(timings.items(), key=lambda kv: kv[1], reverse=True)[:top]
        models = {m.name: m for m in discover_models()}
        with out.open("w") as handle:
            for name, seconds in slowest:
                handle.write(f"==== {name} ({seconds:.2f} s in the build)\n")
                try:
                    plan = con.execute(f"explain analyze {models[name].sql}").fetchall()
                    handle.write("\n".join(str(row[-1]) for row in plan) + "\n\n")
                except duckdb.Error as error:
                    handle.write(f"(explain analyze failed: {error})\n\n")
    return slowest


def run_steps(
    period: str,
    exports: Path,
    warehouse: Path,
    reports: Path,
    as_of: date,
    until: str,
    memory_limit: str | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """The steps `close_period` runs, called one by one, stopping after `until`."""
    from closebook.pipeline import (
        CloseContext,
        step_build,
        step_load,
        step_publish,
        step_validate,
        step_workbooks,
    )

    ctx = CloseContext.create(period, exports, warehouse, reports, as_of, memory_limit)
    seconds: dict[str, float] = {}
    model_seconds: dict[str, float] = {}
    status: tuple[str, Path | None] = ("not run", None)
    for name in STEPS:
        started = time.perf_counter()
        if name == "load":
            step_load(ctx)
        elif name == "build":
            model_seconds = step_build(ctx)
        elif name == "validate":
            status = step_validate(ctx)
        elif name == "publish":
            step_publish(ctx)
        else:
            step_workbooks(ctx, *status)
        seconds[name] = time.perf_counter() - started
        print(f"  {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)
        if name == until:
            break
    return seconds, model_seconds


def main(argv: list[str] | None = None) -> int:
    """Generate, close, print the table (and a JSON copy in the workdir)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", default="2026-09,2026-10", help="consecutive, comma-separated")
    parser.add_argument("--period", default=None, help="period to close (default: last month)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--snapshots-per-month", type=int, default=100)
    parser.add_argument("--clean", action="store_true", help="exports without deliberate issues")
    parser.add_argument("--regenerate", action="store_true", help="ignore cached exports")
    parser.add_argument(
        "--memory-limit", default=None, help="the close's memory budget (e.g. 1GiB; default 50%%)"
    )
    parser.add_argument("--profile-build", action="store_true", help="per-model build timings")
    parser.add_argument("--top", type=int, default=8, help="models to show with --profile-build")
    parser.add_argument(
        "--until",
        choices=STEPS,
        default=None,
        help="run the pipeline's step functions one by one and stop after this step "
        "(for sizes where the whole close takes too long); shows per-model build times",
    )
    args = parser.parse_args(argv)

    from closebook.pipeline import close_period

    period = args.period or args.months.split(",")[-1].strip()
    y, m = (int(x) for x in period.split("-"))
    # A fixed as-of date (two months after the period) keeps aging and the result stable.
    as_of = date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) + timedelta(days=30)
    args.workdir.mkdir(parents=True, exist_ok=True)
    tag = f"{args.accounts}-s{args.seed}-{args.months.replace(',', '_')}-{args.format}"
    if args.clean:
        tag += "-clean"
    exports = args.workdir / f"exports-{tag}"
    warehouse = args.workdir / f"warehouse-{tag}.duckdb"
    reports = args.workdir / f"reports-{tag}"

    rows, gen_seconds, gen_peak = generate(args, exports)
    for stale in (warehouse, warehouse.with_suffix(".duckdb.wal"), reports):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()

    started = time.perf_counter()
    model_seconds: dict[str, float] = {}
    exit_code: int | str = "n/a (stopped early)"
    if args.until:
        steps, model_seconds = run_steps(
            period, exports, warehouse, reports, as_of, args.until, args.memory_limit
        )
    else:
        result = close_period(
            period, exports, warehouse, reports, as_of=as_of, memory_limit=args.memory_limit
        )
        steps, exit_code = result.step_seconds, result.exit_code
    total = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    input_rows = sum(rows.values())
    load_build = steps.get("load", 0.0) + steps.get("build", 0.0)
    wal = warehouse.with_suffix(".duckdb.wal")
    warehouse_bytes = warehouse.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    workbooks = sorted((reports / period).glob("*.xlsx"))

    lines = [
        f"### {args.accounts:,} accounts, months {args.months}, close {period} ({args.format})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| input rows (all files) | {input_rows:,} |",
        f"| usage_snapshots rows | {rows.get('usage_snapshots', 0):,} |",
        f"| export folder size | {_mib(_tree_bytes(exports))} |",
        f"| generate (child process, not in the close) | {gen_seconds:.1f} s, "
        f"peak RSS {_mib(gen_peak * 1024)} |",
    ]
    lines += [f"| step: {name} | {steps[name]:.2f} s |" for name in STEPS if name in steps]
    lines += [f"| step: {name} | {s:.2f} s |" for name, s in steps.items() if name not in STEPS]
    lines += [
        f"| close total (wall) | {total:.2f} s |",
        f"| rows per second (input rows / load+build) | {input_rows / load_build:,.0f} |"
        if load_build
        else "| rows per second | n/a |",
        f"| peak RSS (whole bench process) | {_mib(peak_kib * 1024)} |",
        f"| warehouse on disk | {_mib(warehouse_bytes)} |",
    ]
    lines += [f"| workbook {p.name} | {_mib(p.stat().st_size)} |" for p in workbooks]
    lines += [f"| exit code | {exit_code} |"]
    print("\n".join(lines))

    record = {
        "accounts": args.accounts,
        "months": args.months,
        "period": period,
        "rows": rows,
        "generate_seconds": gen_seconds,
        "step_seconds": steps,
        "close_seconds": total,
        "peak_rss_kib": peak_kib,
        "warehouse_bytes": warehouse_bytes,
        "workbooks": {p.name: p.stat().st_size for p in workbooks},
        "exit_code": exit_code,
    }
    if model_seconds:
        slowest_build = sorted(model_seconds.items(), key=lambda kv: kv[1], reverse=True)
        print("\nslowest models (in this close's build step):")
        for name, seconds in slowest_build[: args.top]:
            print(f"  {name:45s} {seconds:8.2f} s")
        record["build_model_seconds"] = model_seconds
    if args.profile_build:
        out = args.workdir / f"profile-{tag}.txt"
        slowest = profile_build(warehouse, period, as_of, out, args.top)
        print("\nslowest models (second build, per-model seconds):")
        for name, seconds in slowest:
            print(f"  {name:45s} {seconds:8.2f} s")
        print(f"EXPLAIN ANALYZE of these: {out}")
        record["slowest_models"] = slowest
    (args.workdir / f"bench-{tag}.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
