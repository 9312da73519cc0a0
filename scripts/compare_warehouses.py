"""Close the same exports with two versions of the code and compare their warehouses.

Why: a change made for speed (a fused model, a faster parser, a different load) must
leave every published row as it was. `close` runs the whole close (without Prefect)
on the bundled sample (2026-08..2026-10, one warehouse) and, when given, on a bench
export folder (its last month), into a folder; `compare` checks every `main` table of
two such folders with `except all` both ways. Run metadata is left out: `close_runs`
(timestamps, seconds), `closebook_schema` (when the schema was applied) and the
`details` text of `validation_results` (it carries timings).

    # on the code before the change (e.g. after `git stash`), then on the change
    .venv/bin/python scripts/compare_warehouses.py close /tmp/ref --bench-exports DIR
    .venv/bin/python scripts/compare_warehouses.py close /tmp/new --bench-exports DIR
    .venv/bin/python scripts/compare_warehouses.py compare /tmp/ref /tmp/new

Exit 0 when every table is equal, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SAMPLE_PERIODS = ("2026-08", "2026-09", "2026-10")
BENCH_PERIOD = "2026-10"
AS_OF = date(2026, 12, 31)
RUN_METADATA = {"close_runs", "closebook_schema"}
RUN_METADATA_COLUMNS = {"validation_results": {"details"}}


def close_into(out: Path, bench_exports: Path | None, memory_limit: str | None) -> None:
    """Close the sample (and the bench exports) into `out/<name>.duckdb`."""
    from closebook.pipeline import close_period

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    runs = [("sample", period, SAMPLE) for period in SAMPLE_PERIODS]
    if bench_exports is not None:
        runs.append(("bench", BENCH_PERIOD, bench_exports))
    for name, period, exports in runs:
        result = close_period(
            period,
            exports,
            out / f"{name}.duckdb",
            out / f"{name}-reports",
            AS_OF,
            memory_limit=memory_limit,
        )
        print(f"{name} {period}: exit {result.exit_code}", flush=True)


def compare_files(a: Path, b: Path) -> int:
    """Tables of `a` and `b` whose rows differ (printed one line per table)."""
    con = duckdb.connect()
    con.execute("attach ? as a (read_only)", [str(a)])
    con.execute("attach ? as b (read_only)", [str(b)])
    tables = {
        db: {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = ? and schema_name = 'main'",
                [db],
            ).fetchall()
        }
        for db in ("a", "b")
    }
    different = 0
    if tables["a"] != tables["b"]:
        print(f"  tables only on one side: {sorted(tables['a'] ^ tables['b'])}")
        different += 1
    for table in sorted((tables["a"] & tables["b"]) - RUN_METADATA):
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from duckdb_columns() where database_name = 'a' "
                "and schema_name = 'main' and table_name = ? order by column_index",
                [table],
            ).fetchall()
            if row[0] not in RUN_METADATA_COLUMNS.get(table, set())
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        counts = []
        for left, right in (("a", "b"), ("b", "a")):
            counts.append(
                con.execute(
                    f"select count(*) from (select {listed} from {left}.main.{table} "
                    f"except all select {listed} from {right}.main.{table})"
                ).fetchone()[0]
            )
        rows = con.execute(f"select count(*) from a.main.{table}").fetchone()[0]
        verdict = "same" if counts == [0, 0] else "DIFFERENT"
        print(f"  {table:24s} {rows:>10,} rows  a-b {counts[0]:>6}  b-a {counts[1]:>6}  {verdict}")
        different += verdict != "same"
    return different


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    close = sub.add_parser("close", help="close the sample (and bench exports) into a folder")
    close.add_argument("out", type=Path)
    close.add_argument("--bench-exports", type=Path, default=None)
    close.add_argument("--memory-limit", default=None)
    compare = sub.add_parser("compare", help="compare the warehouses of two such folders")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "close":
        close_into(args.out, args.bench_exports, args.memory_limit)
        return 0
    different = 0
    for name in ("sample.duckdb", "bench.duckdb"):
        left, right = args.a / name, args.b / name
        if left.exists() or right.exists():
            print(name)
            different += compare_files(left, right)
    print("SAME" if not different else f"DIFFERENT ({different} tables)")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
