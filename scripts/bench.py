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
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = ("load", "build", "validate", "publish", "workbooks")
COMPUTE = ("load", "build", "validate", "publish")
_CELL = re.compile(rb"<c [^>]*?(/>|>)")


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


class TreeRssSampler:
    """Peak RSS of this process plus its children (the workbook workers), sampled.

    `getrusage` cannot give it: a child's ru_maxrss starts at its parent's size at
    fork, and no call sums processes running at the same time. Every 0.1 s this reads
    VmRSS from /proc for the process and its direct children and keeps the largest sum.
    """

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss_kib(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                found += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
        return found

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.wait(0.1):
            total = self._rss_kib(pid) + sum(self._rss_kib(c) for c in self._children(pid))
            self.peak_kib = max(self.peak_kib, total)


def scan_floor(exports: Path) -> float:
    """Seconds for DuckDB to read every export file and group its rows by account and month.

    The floor for load + build: the same bytes parsed by the same engine, grouped the
    simplest way that touches every row (month = the first 7 characters of the row's
    timestamp where it has one).
    """
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    for path in sorted(exports.glob("*.csv")):
        source = f"read_csv('{path}', all_varchar = true)"
        columns = [c[0] for c in con.execute(f"describe select * from {source}").fetchall()]
        keys = [c for c in ("account_id",) if c in columns]
        dated = [c for c in ("observed_at", "occurred_at", "paid_at") if c in columns]
        keys += [f"left({c}, 7)" for c in dated[:1]]
        group = ", ".join(keys) or "1"
        con.execute(
            f"select count(*) from (select {group}, count(*) from {source} group by all)"
        ).fetchall()
    con.close()
    return time.perf_counter() - started


def workbook_cells(path: Path) -> list[tuple[str, int, int, int, int]]:
    """(sheet file, columns, text cells, formula cells, other cells) of each sheet of a workbook."""
    sheets = []
    with zipfile.ZipFile(path) as book:
        for name in sorted(n for n in book.namelist() if n.startswith("xl/worksheets/sheet")):
            data = book.read(name)
            texts = data.count(b't="inlineStr"') + data.count(b't="s"')
            formulas = data.count(b"<f>") + data.count(b"<f ")
            cells = len(_CELL.findall(data))
            dimension = re.search(rb'<dimension ref="[A-Z]+\d+:([A-Z]+)\d+"', data)
            columns = 1
            if dimension:
                columns = 0
                for char in dimension.group(1).decode():
                    columns = columns * 26 + ord(char) - 64
            sheets.append((name, columns, texts, formulas, cells - texts - formulas))
    return sheets


def _floor_workbook(out: str, sheets: list[tuple[str, int, int, int, int]]) -> float:
    """Stock XlsxWriter (constant_memory, no formats) writing the same cells by kind."""
    import xlsxwriter

    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    for index, (_, columns, texts, formulas, others) in enumerate(sheets):
        ws = workbook.add_worksheet(f"S{index}")
        kinds = [0] * texts + [1] * formulas + [2] * others
        for i, kind in enumerate(kinds):
            row, col = divmod(i, max(columns, 1))
            if kind == 0:
                ws.write_string(row, col, f"text {i}")
            elif kind == 1:
                ws.write_formula(row, col, f"=ROUND(A{row + 1}*2,2)", None, i * 0.5)
            else:
                ws.write_number(row, col, i * 1.25)
    workbook.close()
    return time.perf_counter() - started


def _rows_floor_workbook(out: str, sheets: list[tuple[str, int, int, int, int]]) -> float:
    """Our own row path (`fast_xml.Worksheet.append_row`) writing the same cells by kind.

    The writer the close uses, with nothing of the close around it: no warehouse,
    no table logic, one format. The same layout as `_floor_workbook`.
    """
    from closebook.workbooks.cells import Formula, Number, Text
    from closebook.workbooks.fast_xml import Workbook

    started = time.perf_counter()
    workbook = Workbook(out, {"constant_memory": True})
    fmt = workbook.add_format({"num_format": "0.00"})
    for index, (_, columns, texts, formulas, others) in enumerate(sheets):
        ws = workbook.add_worksheet(f"S{index}")
        kinds = [0] * texts + [1] * formulas + [2] * others
        width = max(columns, 1)
        for first in range(0, len(kinds), width):
            row = first // width
            cells = [
                Text(f"text {i}", fmt)
                if kind == 0
                else Formula(f"=ROUND(A{row + 1}*2,2)", i * 0.5, fmt)
                if kind == 1
                else Number(i * 1.25, fmt)
                for i, kind in enumerate(kinds[first : first + width], first)
            ]
            ws.append_row(
                row + 1, cells, row + 2
            )  # row 0 left empty: append_row needs a row before
    workbook.close()
    return time.perf_counter() - started


def _rust_floor_workbook(out: str, sheets: list[tuple[str, int, int, int, int]]) -> float:
    """rustpy-xlsxwriter (Rust) writing the same number of cells by kind, as values.

    It writes records (one dict per row, the same kinds in every row of a column),
    so each sheet is laid out as rows of its width with its text, formula and other
    cells in proportion, rounded up to whole rows. It cannot store a formula with
    its cached result in a cell (only `formula_columns` appended after the data,
    with no value), so formula cells are written as their numbers: a floor below
    what our workbooks need, not a writer that could write them.
    """
    from rustpy_xlsxwriter import FastExcel

    started = time.perf_counter()
    book = FastExcel(out)
    for index, (_, columns, texts, formulas, others) in enumerate(sheets):
        total = texts + formulas + others
        columns = max(columns, 1)
        rows = -(-total // columns)
        text_cols = round(columns * texts / total) if total else 0
        formula_cols = round(columns * formulas / total) if total else 0
        kinds = [0] * text_cols + [1] * formula_cols
        kinds += [2] * (columns - len(kinds))
        names = [f"c{col}" for col in range(columns)]

        def records(rows: int = rows, kinds: list[int] = kinds, names: list[str] = names):
            for row in range(rows):
                yield {
                    name: (f"text {row}" if kind == 0 else row * 0.5 if kind == 1 else row * 1.25)
                    for name, kind in zip(names, kinds, strict=True)
                }

        book.sheet(f"S{index}", records())
    book.save()
    return time.perf_counter() - started


def rust_writer_available() -> bool:
    """Whether rustpy-xlsxwriter is installed (a development dependency)."""
    try:
        import rustpy_xlsxwriter  # noqa: F401
    except ImportError:
        return False
    return True


def writer_floor(
    workbooks: list[Path], out_dir: Path, workers: int, writer: str = "xlsxwriter"
) -> float:
    """Wall seconds for a writer to write the same cells, in the same processes.

    Each workbook's cells are counted by kind (text, formula with its value, number or
    date or blank) from the files the close wrote, then written again with no formats,
    the workbooks in parallel on `workers` processes as the close writes them.
    `writer`: "xlsxwriter" (stock XlsxWriter, constant_memory), "rows" (our own
    row path, the writer the close uses: `_rows_floor_workbook`) or "rustpy"
    (rustpy-xlsxwriter, formulas as values: see `_rust_floor_workbook`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(str(out_dir / p.name), workbook_cells(p)) for p in workbooks]
    jobs.sort(key=lambda job: -sum(sum(s[2:]) for s in job[1]))
    write = {
        "xlsxwriter": _floor_workbook,
        "rows": _rows_floor_workbook,
        "rustpy": _rust_floor_workbook,
    }[writer]
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        list(pool.map(write, *zip(*jobs, strict=True)))
    return time.perf_counter() - started


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
    parser.add_argument(
        "--no-floor", action="store_true", help="skip measuring the scan and writer floors"
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
    with TreeRssSampler() as sampler:
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
    tree_kib = max(sampler.peak_kib, peak_kib)
    compute = sum(steps.get(name, 0.0) for name in COMPUTE)
    floors: dict[str, float] = {}
    if not args.no_floor:
        floors["scan"] = scan_floor(exports)
        if workbooks_written := sorted((reports / period).glob("*.xlsx")):
            from closebook.engine import available_cores

            floors["writer"] = writer_floor(
                workbooks_written, args.workdir / f"floor-{tag}", available_cores()
            )
            floors["writer_rows"] = writer_floor(
                workbooks_written, args.workdir / f"floor-rows-{tag}", available_cores(), "rows"
            )
            if rust_writer_available():
                floors["writer_rustpy"] = writer_floor(
                    workbooks_written,
                    args.workdir / f"floor-rustpy-{tag}",
                    available_cores(),
                    "rustpy",
                )

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
    lines += [
        f"| step: {name} | {steps[name]:.2f} s ({input_rows / steps[name]:,.0f} input rows/s) |"
        for name in STEPS
        if steps.get(name)
    ]
    lines += [f"| step: {name} | {s:.2f} s |" for name, s in steps.items() if name not in STEPS]
    lines += [
        f"| compute (load + build + validate + publish) | {compute:.2f} s |",
        f"| close total (wall) | {total:.2f} s |",
        f"| rows per second (input rows / load+build) | {input_rows / load_build:,.0f} |"
        if load_build
        else "| rows per second | n/a |",
    ]
    if "scan" in floors:
        lines.append(
            f"| floor: DuckDB scanning the exports, grouped by account and month | "
            f"{floors['scan']:.2f} s (compute = {compute / floors['scan']:.1f}x) |"
        )
    if "writer" in floors and steps.get("workbooks"):
        lines.append(
            f"| floor: XlsxWriter writing the same cells, same processes | "
            f"{floors['writer']:.2f} s (workbooks = {steps['workbooks'] / floors['writer']:.2f}x) |"
        )
    if "writer_rows" in floors and steps.get("workbooks"):
        lines.append(
            f"| floor: our row path (the writer the close uses) writing the same cells, "
            f"same processes | {floors['writer_rows']:.2f} s "
            f"(workbooks = {steps['workbooks'] / floors['writer_rows']:.2f}x) |"
        )
    if "writer_rustpy" in floors and steps.get("workbooks"):
        lines.append(
            f"| floor: rustpy-xlsxwriter writing as many cells by kind, formulas as values "
            f"(cannot store a formula's result), same processes | {floors['writer_rustpy']:.2f} s "
            f"(workbooks = {steps['workbooks'] / floors['writer_rustpy']:.2f}x) |"
        )
    if floors and steps.get("workbooks"):
        floor_total = floors.get("scan", 0.0) + floors.get("writer", 0.0)
        lines.append(f"| close / floor (scan + writer) | {total / floor_total:.1f}x |")
    lines += [
        f"| peak RSS (close process) | {_mib(peak_kib * 1024)} |",
        f"| peak RSS (close + workbook workers at once, sampled) | {_mib(tree_kib * 1024)} |",
        f"| memory limit | {args.memory_limit or 'default (50% of RAM)'} |",
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
        "tree_peak_rss_kib": tree_kib,
        "compute_seconds": compute,
        "floor_seconds": floors,
        "memory_limit": args.memory_limit,
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
