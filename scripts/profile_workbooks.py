"""Time (and optionally profile) writing and verifying the workbooks of a warehouse.

    .venv/bin/python scripts/profile_workbooks.py /tmp/w10k.duckdb --period 2026-10
    .venv/bin/python scripts/profile_workbooks.py /tmp/w10k.duckdb --profile write
    .venv/bin/python scripts/profile_workbooks.py /tmp/w10k.duckdb --libreoffice

Prints seconds per workbook written, for the close's check (`verify_workbooks`:
covers and totals) and the tests' full check (`tests/workbook_verify.py`), and
with `--libreoffice` how long one headless LibreOffice takes to open,
recalculate and save reconciliation.xlsx (the accountant's wait).
The warehouse is opened read-only; workbooks go to a temporary folder unless
`--out` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from closebook.workbooks import WORKBOOKS, RunInfo, verify_workbooks  # noqa: E402
from closebook.workbooks.libreoffice import recalculate  # noqa: E402
from tests.workbook_verify import verify_full  # noqa: E402  (the full check is test code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--profile", choices=("write", "verify"), default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--libreoffice", action="store_true", help="time a LibreOffice recalc")
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()

    con = duckdb.connect(str(args.warehouse), read_only=True)
    run = RunInfo(args.period, dt.datetime(2026, 11, 22, 8, 30), dt.date(2027, 2, 15), "passed")
    with tempfile.TemporaryDirectory(prefix="closebook-profile-") as tmp:
        out = args.out or Path(tmp)
        folder = out / args.period
        profiler = cProfile.Profile() if args.profile else None

        if profiler and args.profile == "write":
            profiler.enable()
        total = 0.0
        for name, writer in WORKBOOKS.items():
            start = time.perf_counter()
            path = writer(con, args.period, folder / f"{name}.xlsx", run)
            seconds = time.perf_counter() - start
            total += seconds
            print(f"write {name:15s} {seconds:7.2f} s  {path.stat().st_size / 1e6:6.1f} MB")
        print(f"write {'total':15s} {total:7.2f} s")
        if profiler and args.profile == "write":
            profiler.disable()

        if not args.no_verify:
            for full in (False, True):
                if profiler and args.profile == "verify" and full:
                    profiler.enable()
                start = time.perf_counter()
                check = verify_full if full else verify_workbooks
                problems = check(con, args.period, out)
                seconds = time.perf_counter() - start
                if profiler and args.profile == "verify" and full:
                    profiler.disable()
                print(f"verify full={full!s:5s}       {seconds:7.2f} s  problems: {len(problems)}")
                for problem in problems[:10]:
                    print("   ", problem)

        if args.libreoffice:
            start = time.perf_counter()
            recalculate([folder / "reconciliation.xlsx"], Path(tmp) / "recalculated")
            print(f"libreoffice recalc reconciliation.xlsx {time.perf_counter() - start:7.2f} s")

        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
