"""The sharded close: the same invoices as one process, billed shard by shard.

Billing is independent per account, except where the contract's rules tie
rows of several accounts together. The close therefore loads the exports
once (the loader fixes line numbers and finds unreadable rows), then routes
every raw row to a shard by a stable hash of a *routing label* chosen so that
every rule's inputs meet in one shard:

- a row goes with its account (`account_id` as written: the models compare it
  as written too);
- accounts that share a global key (a `license_id`, `event_id`, `txn_id` or
  billed `invoice_number` written under more than one account) form one group,
  labelled by its smallest account_id, and the whole group goes to one shard:
  a conflicting duplicate of another account's key, or a license event naming
  another account than its issue, is judged where both rows are;
- a license event with no account goes with its license (a rejected `issued`
  poisons the license's later events).

`license_prices` (no account, small) is replicated to every shard; `payments`
stay with the driver; the rows the CSV reader could not split go with the
account they name (the driver keeps them all for the row ledger). Each shard
runs the per-account models (`SHARD_MODELS`) in its own DuckDB and writes them
as Parquet; the driver unions them into `build.*` and runs every other model
once over the union (row ledger, holds, invoices, reconciliation), then
validation, publish and the workbooks run exactly as in one process.

Shard work is a picklable `ShardSpec` and a plain function, so any executor
can run it: Dask workers through Prefect (`closebook.flows.sharded_close`),
or this process one shard after another (`run_shards_here`).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from closebook.models import ClosePeriod, build_models, model_dependencies, prepare_session

# Input tables whose rows are routed by account (each row to exactly one shard).
ROUTED_TABLES = (
    "accounts",
    "usage_snapshots",
    "license_events",
    "balance_transactions",
    "billed_invoices",
    # rows the CSV reader could not split, with the account_id it could still read (an
    # unreadable accounts row makes its account a rejected one, in that account's shard);
    # the driver keeps all of them for the row ledger
    "unreadable_rows",
)
# Small tables with no account, copied to every shard (the models that read them
# run again on the driver: their rows are counted once, there).
REPLICATED_TABLES = ("license_prices",)

# Global keys that can tie rows of different accounts together: (table, column).
LINK_KEYS = (
    ("license_events", "license_id"),
    ("license_events", "event_id"),
    ("balance_transactions", "txn_id"),
    ("billed_invoices", "invoice_number"),
)

# Models computed per shard and unioned: one row per raw row or per account (or per
# account's license, invoice line, month...) of the routed tables, never an aggregate
# across accounts. Every other model runs once on the driver, over the union.
SHARD_MODELS = frozenset(
    {
        "stg_accounts",
        "int_accounts_checked",
        "int_account_lookup",
        "int_accounts",
        "stg_usage_snapshots",
        "int_usage_snapshots_set_aside",
        "int_usage_snapshots_checked",
        "int_usage_snapshots",
        "stg_license_events",
        "int_license_events_deduped",
        "int_license_events_checked",
        "int_license_events",
        "int_license_intervals",
        "int_license_days",
        "license_days",
        "stg_balance_transactions",
        "int_balance_transactions_deduped",
        "int_prepaid_replay",
        "int_balance_transactions_checked",
        "int_balance_transactions",
        "int_prepaid_monthly",
        "prepaid_balances",
        "int_hwm_monthly",
        "hwm_usage",
        "int_invoice_lines_hwm",
        "int_invoice_lines_license_days",
        "int_invoice_lines_prepaid",
        "int_invoice_lines",
        "stg_billed_invoices",
        "int_billed_invoices_checked",
        "int_billed_invoices",
    }
)


class ShardFailed(RuntimeError):
    """A shard could not finish; the message is one line for the CLI."""


@dataclass(frozen=True)
class ShardSpec:
    """What a worker needs to bill one shard: picklable, no open connection."""

    shard: int
    shards: int
    work_dir: str
    period: str
    as_of: date
    raw_columns: dict[str, list[tuple[str, str]]]
    threads: int | None = None
    memory_limit: str | None = None


@dataclass(frozen=True)
class ShardResult:
    shard: int
    input_rows: int
    seconds: float
    peak_rss_mb: float


def work_dir_for(warehouse: Path) -> Path:
    """The shards' work folder, beside the warehouse (removed after every close)."""
    return warehouse.with_name(warehouse.name + ".shards")


def shard_models(sql_dir: Path | None = None) -> set[str]:
    """What a shard runs: `SHARD_MODELS` and every model they read (ref tables, prices)."""
    graph = model_dependencies(sql_dir) if sql_dir else model_dependencies()
    wanted: set[str] = set()
    todo = list(SHARD_MODELS)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(graph[name])
    return wanted


def partition_exports(
    con: duckdb.DuckDBPyConnection, work_dir: Path, shards: int, period: str, as_of: date
) -> list[ShardSpec]:
    """Write `build.raw_*` (already loaded) as one Parquet partition per shard."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    if work_dir.exists():
        shutil.rmtree(work_dir)
    (work_dir / "raw").mkdir(parents=True)
    route_accounts(con, shards)
    raw_columns: dict[str, list[tuple[str, str]]] = {}
    for table in ROUTED_TABLES + REPLICATED_TABLES:
        raw_columns[table] = [
            (str(name), str(dtype))
            for name, dtype in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'build' and table_name = ? order by ordinal_position",
                [f"raw_{table}"],
            ).fetchall()
        ]
    for table in ROUTED_TABLES:
        target = work_dir / "raw" / table
        con.execute(
            f"copy ({_routed_rows_sql(table)}) to '{_sql_path(target)}' "
            "(format parquet, partition_by (shard))"
        )
    for table in REPLICATED_TABLES:
        target = work_dir / "raw" / f"{table}.parquet"
        con.execute(f"copy build.raw_{table} to '{_sql_path(target)}' (format parquet)")
    return [
        ShardSpec(shard, shards, str(work_dir), period, as_of, raw_columns)
        for shard in range(shards)
    ]


def route_accounts(con: duckdb.DuckDBPyConnection, shards: int) -> None:
    """`shard_routes(account_id, shard)` and `shard_license_routes(license_id, shard)`.

    Accounts tied by a shared global key get one label (the smallest account_id of
    the group), found by label propagation over the few keys that are shared; the
    shard is a stable hash (md5) of the label, so the same exports give the same
    partitions on any machine and DuckDB version.
    """
    links = " union all ".join(
        f"select account_id, '{table}.{column}:' || {column} as link_key "
        f"from build.raw_{table} where account_id is not null and {column} is not null"
        for table, column in LINK_KEYS
    )
    con.execute(f"create or replace temp table shard_links as select distinct * from ({links})")
    con.execute(
        "create or replace temp table shard_edges as "
        "select account_id, link_key from shard_links where link_key in ("
        "select link_key from shard_links group by link_key "
        "having count(distinct account_id) > 1)"
    )
    con.execute(
        "create or replace temp table shard_labels as "
        "select distinct account_id, account_id as label from shard_edges"
    )
    while True:
        con.execute(
            """
            create or replace temp table shard_next_labels as
            with key_labels as (
                select e.link_key, min(l.label) as label
                from shard_edges e join shard_labels l using (account_id)
                group by e.link_key
            )
            select e.account_id, min(k.label) as label
            from shard_edges e join key_labels k using (link_key)
            group by e.account_id
            """
        )
        changed = con.execute(
            "select count(*) from shard_next_labels n join shard_labels l using (account_id) "
            "where n.label <> l.label"
        ).fetchone()
        con.execute("create or replace temp table shard_labels as from shard_next_labels")
        if not changed or not changed[0]:
            break
    account_ids = " union ".join(
        f"select account_id from build.raw_{table} where account_id is not null"
        for table in ROUTED_TABLES
    )
    con.execute(
        f"""
        create or replace temp table shard_routes as
        with ids as ({account_ids})
        select ids.account_id, coalesce(l.label, ids.account_id) as label,
            cast(md5_number(coalesce(l.label, ids.account_id)) % {int(shards)} as integer)
                as shard
        from ids left join shard_labels l using (account_id)
        """
    )
    con.execute(
        f"""
        create or replace temp table shard_license_routes as
        select e.license_id,
            coalesce(min(r.shard), cast(md5_number(e.license_id) % {int(shards)} as integer))
                as shard
        from build.raw_license_events e
        left join shard_routes r using (account_id)
        where e.license_id is not null
        group by e.license_id
        """
    )


def _routed_rows_sql(table: str) -> str:
    """Every raw row of `table` with its shard; a row naming no account goes with its
    license (license events) or to shard 0 (it is rejected on its own terms there)."""
    if table == "license_events":
        return (
            "select raw.*, coalesce(r.shard, lr.shard, 0) as shard "
            "from build.raw_license_events raw "
            "left join shard_routes r using (account_id) "
            "left join shard_license_routes lr using (license_id)"
        )
    return (
        f"select raw.*, coalesce(r.shard, 0) as shard from build.raw_{table} raw "
        "left join shard_routes r using (account_id)"
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def run_shard(spec: ShardSpec) -> ShardResult:
    """Bill one shard in its own in-memory DuckDB; write its models as Parquet.

    Runs on a worker: reads only its partition of the work folder and never opens
    the warehouse (DuckDB allows one writer per file; the driver holds it).
    """
    started = time.perf_counter()
    _reset_peak_memory()
    work = Path(spec.work_dir)
    out = work / "out" / f"shard={spec.shard}"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set temp_directory = '{_sql_path(work / 'spill' / str(spec.shard))}'")
        if spec.threads:
            con.execute(f"set threads = {int(spec.threads)}")
        memory_limit = spec.memory_limit or _worker_memory_share()
        if memory_limit:
            if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
                raise ValueError(f"memory limit '{memory_limit}' is not like 4GiB")
            con.execute(f"set memory_limit = '{memory_limit}'")
        prepare_session(con)
        rows = 0
        for table, columns in spec.raw_columns.items():
            column_sql = ", ".join(f'"{name}" {dtype}' for name, dtype in columns)
            con.execute(f"create table build.raw_{table} ({column_sql})")
            if table in REPLICATED_TABLES:
                files = [work / "raw" / f"{table}.parquet"]
            else:
                files = sorted((work / "raw" / table / f"shard={spec.shard}").glob("*.parquet"))
            for file in files:
                con.execute(
                    f"insert into build.raw_{table} by name "
                    f"select * from read_parquet('{_sql_path(file)}', hive_partitioning = false)"
                )
            if table not in REPLICATED_TABLES:
                count = con.execute(f"select count(*) from build.raw_{table}").fetchone()
                rows += int(count[0]) if count else 0
        build_models(con, ClosePeriod.parse(spec.period), spec.as_of, only=shard_models())
        for model in sorted(SHARD_MODELS):
            con.execute(
                f"copy build.{model} to '{_sql_path(out / f'{model}.parquet')}' (format parquet)"
            )
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ShardFailed(f"shard {spec.shard} of {spec.shards} failed: {first}") from None
    finally:
        con.close()
    return ShardResult(spec.shard, rows, time.perf_counter() - started, _peak_memory_mb())


def _reset_peak_memory() -> None:
    """Start the process's peak-RSS mark afresh (Linux), so a worker reports what this
    shard took, not what an earlier shard (or the process it was forked from) did."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mb() -> float:
    """Peak resident memory since `_reset_peak_memory` (VmHWM), else the process's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_memory_share() -> str | None:
    """On a Dask worker, DuckDB may use 60% of the worker's memory limit and spills
    the rest to the work folder: Dask's nanny restarts a worker whose process grows
    past 95% of its limit, and DuckDB's own default (80% of the machine) knows
    nothing of the other workers on the host."""
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):
        return None
    return f"{int(limit * 0.6) // 2**20}MiB" if limit else None


def run_shards_here(specs: Iterable[ShardSpec]) -> list[ShardResult]:
    """Run the shards one after another in this process (no cluster)."""
    return [run_shard(spec) for spec in specs]


def merge_shards(con: duckdb.DuckDBPyConnection, specs: list[ShardSpec]) -> None:
    """Union every shard's models into `build.*` (the driver's build schema)."""
    work = Path(specs[0].work_dir)
    for model in sorted(SHARD_MODELS):
        files = [work / "out" / f"shard={spec.shard}" / f"{model}.parquet" for spec in specs]
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise ShardFailed(f"shard output missing: {missing[0]}")
        file_list = ", ".join(f"'{_sql_path(f)}'" for f in files)
        con.execute(
            f"create or replace table build.{model} as "
            f"select * from read_parquet([{file_list}], hive_partitioning = false)"
        )


def build_global_models(
    con: duckdb.DuckDBPyConnection,
    period: ClosePeriod,
    as_of: date,
    timings: dict[str, float] | None = None,
) -> list[str]:
    """Every model that is not per shard, once, over the merged shard results."""
    from closebook.models import discover_models

    global_models = {m.name for m in discover_models()} - SHARD_MODELS
    return build_models(con, period, as_of, timings=timings, only=global_models)


ShardMapper = Callable[[list[ShardSpec]], list[ShardResult]]


def remove_work_dir(work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)
