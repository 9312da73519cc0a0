"""Why the warehouse's keys are checked by publish, not declared as PRIMARY KEYs.

Times what publish does when a period is closed again: in one transaction, delete the
period's rows and insert the same keys again, then commit; once on a table with a
PRIMARY KEY (a DuckDB ART index), once on the same table without one (closebook's
declared shape, whose key publish checks with a `group by ... having count(*) > 1`).

    .venv/bin/python scripts/bench_keys.py --rows 200000 --history 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb


def replace_period(con: duckdb.DuckDBPyConnection, table: str, check: bool) -> tuple[float, float]:
    con.execute("begin")
    started = time.perf_counter()
    con.execute(f"delete from {table} where period = '2026-10'")
    con.execute(f"insert into {table} by name select * from fresh")
    if check:
        con.execute(
            "select period, k from fresh group by all having count(*) > 1 limit 1"
        ).fetchall()
    written = time.perf_counter()
    con.execute("commit")
    return written - started, time.perf_counter() - written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per period")
    parser.add_argument("--history", type=int, default=5, help="earlier periods kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "keys.duckdb"))
        con.execute(
            "create table fresh as select '2026-10' as period, 'K' || lpad(i::varchar, 9, '0') "
            f"as k, cast(i as decimal(18, 2)) as amount from range({args.rows}) t(i)"
        )
        shape = "period varchar not null, k varchar not null, amount decimal(18, 2)"
        con.execute(f"create table with_pk ({shape}, primary key (period, k))")
        con.execute(f"create table checked ({shape})")
        for table in ("with_pk", "checked"):
            for month in range(10 - args.history, 10):
                con.execute(
                    f"insert into {table} select '2026-0' || {month} as period, k, amount "
                    "from fresh"
                )
            con.execute(f"insert into {table} select * from fresh")
        con.execute("checkpoint")
        for table, check in (("checked", True), ("with_pk", False)):
            for attempt in (1, 2):
                dml, commit = replace_period(con, table, check)
                print(
                    f"{table:8} re-run {attempt}: delete + insert {dml:6.2f} s, "
                    f"commit {commit:6.2f} s ({args.rows:,} rows, {args.history} earlier periods)"
                )


if __name__ == "__main__":
    main()
