"""Time the workbooks step alone on a published warehouse, against the writer floors.

Why: the workbooks are the close's last step and its biggest pure-Python cost; this
measures that step (the four workbooks in parallel, one process each, as the close
writes them) without re-running load and build, then the floors `scripts/bench.py`
measures (stock XlsxWriter writing the same cells by kind; our own row path, the
writer the close uses, writing them; rustpy-xlsxwriter writing as many, formulas as
values, when it is installed) and the ratios.

    .venv/bin/python scripts/bench_workbooks.py --warehouse W.duckdb --period 2026-10 \\
        [--serial] [--workers 2] [--repeat 3]

`--serial` also times each workbook on its own, one after another, in this process.
The warehouse is only read; the workbooks go to a temporary folder. Timings on a
machine others are using are noisy: take the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench import rust_writer_available, writer_floor  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--period", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measure; best kept")
    parser.add_argument("--serial", action="store_true", help="also time each workbook alone")
    args = parser.parse_args(argv)

    import duckdb

    from closebook.workbooks import WORKBOOKS, RunInfo, write_workbooks_in_parallel

    run_info = RunInfo(
        period=args.period,
        run_started_at=dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC),
        as_of=dt.date(2026, 11, 20),
    )
    lines = [f"### Workbooks of {args.warehouse.name}, {args.period}", ""]
    lines += [f"| measure | seconds (best of {args.repeat}) |", "|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-workbooks-") as tmp:
        out = Path(tmp)
        if args.serial:
            con = duckdb.connect(str(args.warehouse), read_only=True)
            con.execute("set TimeZone = 'UTC'")
            con.execute("set threads = 1")
            con.execute("set enable_progress_bar = false")
            for name, writer in WORKBOOKS.items():
                best = min(
                    _timed(
                        lambda w=writer, n=name: w(con, args.period, out / f"{n}.xlsx", run_info)
                    )
                    for _ in range(args.repeat)
                )
                lines.append(f"| {name}.xlsx alone, one process | {best:.2f} |")
            con.close()
        step = min(
            _timed(
                lambda: write_workbooks_in_parallel(
                    args.warehouse, args.period, out / "step", run_info, workers=args.workers
                )
            )
            for _ in range(args.repeat)
        )
        lines.append(
            f"| workbooks step: the four in parallel, {args.workers} processes | {step:.2f} |"
        )
        written = sorted((out / "step" / args.period).glob("*.xlsx"))
        floor = min(writer_floor(written, out / "floor", args.workers) for _ in range(args.repeat))
        lines.append(
            f"| floor: stock XlsxWriter writing the same cells, same processes | {floor:.2f} "
            f"(step = {step / floor:.2f}x) |"
        )
        rows = min(
            writer_floor(written, out / "rows", args.workers, "rows") for _ in range(args.repeat)
        )
        lines.append(
            f"| floor: our row path (the writer the close uses) writing the same cells | "
            f"{rows:.2f} (step = {step / rows:.2f}x) |"
        )
        if rust_writer_available():
            rust = min(
                writer_floor(written, out / "rust", args.workers, "rustpy")
                for _ in range(args.repeat)
            )
            lines.append(
                f"| floor: rustpy-xlsxwriter, as many cells by kind, formulas as values | "
                f"{rust:.2f} (step = {step / rust:.2f}x) |"
            )
    print("\n".join(lines))
    return 0


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
