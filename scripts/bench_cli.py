"""Time `closebook close` as finance runs it: the command, through Prefect and without.

`scripts/bench.py` times the pipeline's steps inside one Python process; this
runs the installed command in a child process, as a person or a scheduler
does, and measures what they wait for: wall time from start to exit, with
interpreter start-up, imports, the temporary Prefect server, the flow and task
runs, the workbook workers and the log drain included. Peak memory is sampled
from /proc over the command's whole process tree (the close, its workbook
workers and, through Prefect, the temporary server), and also without the
server.

The exports are the ones `scripts/bench.py` generates (same arguments, same
cache in the workdir): run that once first. Each run gets a fresh warehouse and
reports folder. The Prefect home is warmed once before timing (the temporary
server's first start on a new home migrates its database, ~10 s that a finance
machine pays once, not per close).

    .venv/bin/python scripts/bench_cli.py --accounts 10000 --workdir .bench/
    .venv/bin/python scripts/bench_cli.py --accounts 100000 --snapshots-per-month 70 \\
        --workdir .bench/ --memory-limit 1GiB
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOSEBOOK = Path(sys.executable).with_name("closebook")


def _status_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _is_prefect_server(pid: int) -> bool:
    try:
        return b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class TreePeak:
    """Largest summed RSS of a process and all its descendants, every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self.peak_without_server_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            tree = [self.pid, *_descendants(self.pid)]
            sizes = {pid: _status_kib(pid) for pid in tree}
            total = sum(sizes.values())
            server = sum(size for pid, size in sizes.items() if _is_prefect_server(pid))
            self.peak_kib = max(self.peak_kib, total)
            self.peak_without_server_kib = max(self.peak_without_server_kib, total - server)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def warm_prefect_home(env: dict[str, str]) -> None:
    """Start and stop the temporary server once, so its database is migrated."""
    code = (
        "from closebook.flows.temporary_server import owned_server\n"
        "with owned_server():\n    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def run_close(
    exports: Path, workdir: Path, period: str, as_of: date, prefect: bool, extra: list[str]
) -> tuple[float, int, int, int]:
    """One `closebook close`: (wall seconds, peak tree KiB, peak without server KiB, exit)."""
    tag = "prefect" if prefect else "no-prefect"
    warehouse, reports = workdir / f"cli-{tag}.duckdb", workdir / f"cli-{tag}-reports"
    for stale in (warehouse, warehouse.with_suffix(".duckdb.wal"), reports):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    command = [
        str(CLOSEBOOK),
        "close",
        "--period",
        period,
        "--input",
        str(exports),
        "--warehouse",
        str(warehouse),
        "--reports",
        str(reports),
        "--as-of",
        as_of.isoformat(),
        *extra,
    ]
    if not prefect:
        command.append("--no-prefect")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = TreePeak(process.pid)
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    if process.returncode not in (0, 3):
        sys.stderr.write(stderr.decode(errors="replace"))
    return wall, sampler.peak_kib, sampler.peak_without_server_kib, process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", default="2026-09,2026-10")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--snapshots-per-month", type=int, default=100, help="as for bench.py")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--runs", type=int, default=1, help="runs of each kind, alternating")
    parser.add_argument("--only", choices=("prefect", "no-prefect"), default=None)
    args = parser.parse_args(argv)

    period = args.months.split(",")[-1].strip()
    y, m = (int(x) for x in period.split("-"))
    as_of = date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) + timedelta(days=30)  # as bench.py
    tag = f"{args.accounts}-s{args.seed}-{args.months.replace(',', '_')}-{args.format}"
    exports = args.workdir / f"exports-{tag}"
    if not exports.is_dir():
        print(f"no exports at {exports}: run scripts/bench.py with the same arguments first")
        return 2
    extra = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.setdefault("PREFECT_HOME", str(args.workdir / "prefect-home"))
    env.pop("PREFECT_API_URL", None)
    os.environ.update(env)
    kinds = [args.only == "prefect"] if args.only else [True, False]
    if True in kinds:
        warm_prefect_home(env)

    print(f"### `closebook close` of {args.accounts:,} accounts ({period}), wall and peak memory")
    print()
    print("| run | wall | peak RSS, process tree | without the Prefect server | exit |")
    print("|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        for prefect in kinds:
            wall, peak, no_server, code = run_close(
                exports, args.workdir, period, as_of, prefect, extra
            )
            name = "through Prefect" if prefect else "`--no-prefect`"
            print(
                f"| {name} #{run} | {wall:.1f} s | {peak / 1024:,.0f} MiB | "
                f"{no_server / 1024:,.0f} MiB | {code} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
