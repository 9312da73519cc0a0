"""Run the SQL models under `sql/` in dependency order, each into a `build.<name>` table.

A deliberately small runner: the SQL files stay plain (an analyst can `.read`
them in the DuckDB CLI), a model's dependencies are the tables its SQL reads
(parsed with sqlglot's DuckDB dialect, so a string literal, a column alias or a
comment that happens to spell a model's name adds no edge), and the only
parameters (the period and its dates) live in `build.close_params`, written with
bound values so no SQL text is ever pasted together from input.
"""

from __future__ import annotations

import calendar
import itertools
import re
import time
from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from graphlib import CycleError, TopologicalSorter
from importlib.resources import files
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

# The models ship inside the package (`sql/` of the repository, `closebook.sql` once
# installed): found the same way from a checkout, an editable install or a wheel.
SQL_DIR = Path(str(files("closebook.sql")))
LAYERS = ("staging", "intermediate", "marts")


# Schemas a model may name: `build.x` is model x (or a table the loader wrote there);
# `main.x` is a published warehouse table, never a model of this close.
BUILD_SCHEMA = "build"

# Excel shows dates from 1900-01-01 to 9999-12-31; the last period whose due date
# (the 3rd of the next month + 30 days, contract 2.4) fits is 9999-10.
FIRST_PERIOD = "1900-01"
LAST_PERIOD = "9999-10"


class PeriodError(ValueError):
    """The period is not a calendar month written YYYY-MM."""


class ModelGraphError(ValueError):
    """A model's SQL cannot be parsed, or the models depend on each other in a circle."""


MATERIALIZATIONS = ("table", "view")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(\w+)\b", re.MULTILINE)


@dataclass(frozen=True)
class Model:
    """One `sql/<layer>/<name>.sql` file: the query behind table `build.<name>`.

    `depends_on` are the models it reads (they run first); `sources` the other
    tables it reads: the loader's `raw_*` tables, `close_params`, `main.*` tables.
    """

    name: str
    layer: str
    path: Path
    sql: str
    depends_on: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def materialized(self) -> str:
        """`table` (the default) or `view`, from a `-- materialized: view` header line.

        A view costs nothing to build and is recomputed by each reader: right for a
        model that only feeds the next one (a staging model read once by its checked
        model), wrong for one read by many heavy models. Analysts query either the same
        way (`build.<name>`).
        """
        header = "\n".join(
            itertools.takewhile(lambda line: line.startswith("--"), self.sql.splitlines())
        )
        found = _MATERIALIZED.search(header)
        kind = found.group(1) if found else "table"
        if kind not in MATERIALIZATIONS:
            raise ValueError(f"model {self.name}: materialized must be table or view, not {kind}")
        return kind


@dataclass(frozen=True)
class ClosePeriod:
    """A calendar month and the dates the contract derives from it (§2.4)."""

    period: str
    start: datetime
    end: datetime
    days_in_month: int
    invoice_date: date
    due_date: date

    @classmethod
    def parse(cls, period: str) -> ClosePeriod:
        """`YYYY-MM` in ASCII digits only (`\\d` would take fullwidth or Arabic-Indic digits
        and open a second key for the same month), within `FIRST_PERIOD`..`LAST_PERIOD`."""
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", period)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise PeriodError(f"period '{period}' is not a month written YYYY-MM")
        if not FIRST_PERIOD <= period <= LAST_PERIOD:
            raise PeriodError(
                f"period '{period}' is outside {FIRST_PERIOD} to {LAST_PERIOD} "
                "(its invoice and due dates must be dates a workbook can show)"
            )
        year, month = int(match.group(1)), int(match.group(2))
        start = datetime(year, month, 1)
        days = calendar.monthrange(year, month)[1]
        end = start + timedelta(days=days)
        invoice_date = date(end.year, end.month, 3)
        return cls(period, start, end, days, invoice_date, invoice_date + timedelta(days=30))


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every `.sql` file of the three layers, in the order they must run.

    Ties (models whose dependencies are all built) run by layer, then by name,
    so the order reads staging -> intermediate -> marts and is the same everywhere.
    """
    texts = {
        path.stem: (layer, path, path.read_text())
        for layer in LAYERS
        for path in sorted((sql_dir / layer).glob("*.sql"))
    }
    models: dict[str, Model] = {}
    for name, (layer, path, sql) in texts.items():
        try:
            references = table_references(sql)
        except sqlglot.errors.SqlglotError as error:
            first_line = str(error).strip().splitlines()[0]
            raise ModelGraphError(f"model {layer}/{name}.sql: cannot parse: {first_line}") from None
        # A model reading a table of its own name reads what the loader wrote there
        # (input_files); `main.x` is the published table, not this close's model x.
        is_model = {
            (schema, table): schema in ("", BUILD_SCHEMA) and table in texts and table != name
            for schema, table in references
        }
        depends_on = sorted({table for (schema, table), yes in is_model.items() if yes})
        sources = sorted(
            table if schema in ("", BUILD_SCHEMA) else f"{schema}.{table}"
            for (schema, table), yes in is_model.items()
            if not yes
        )
        models[name] = Model(name, layer, path, sql, tuple(depends_on), tuple(sources))
    sorter = TopologicalSorter({name: set(model.depends_on) for name, model in models.items()})
    try:
        sorter.prepare()
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise ModelGraphError(f"models depend on each other in a circle: {cycle}") from None
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (LAYERS.index(models[n].layer), n))
        ordered.extend(ready)
        sorter.done(*ready)
    return [models[name] for name in ordered]


def model_dependencies(sql_dir: Path = SQL_DIR) -> dict[str, set[str]]:
    """The models each model reads (direct dependencies), by name."""
    return {model.name: set(model.depends_on) for model in discover_models(sql_dir)}


@lru_cache(maxsize=512)
def table_references(sql: str) -> frozenset[tuple[str, str]]:
    """The tables a query reads, as (schema, name) pairs, schema "" when unqualified.

    Read from sqlglot's parse tree (DuckDB dialect): every table in a FROM or a
    JOIN, and every bare name handed to a table function (a table macro such as
    `key_fates(keyed)` or `query_table(x)` takes its table that way). The query's
    own CTEs are not tables it reads, unless named with a schema. Cached on the
    text: a test run builds the models hundreds of times.
    """
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: set[tuple[str, str]] = set()
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier):
            found.add((table.db.lower(), table.name.lower()))
        elif isinstance(table.this, exp.Func):
            # a table function: its bare-name arguments are tables (key_fates(keyed))
            for argument in table.this.iter_expressions():
                if isinstance(argument, exp.Column) and not argument.table:
                    found.add(("", argument.name.lower()))
    return frozenset((schema, name) for schema, name in found if schema or name not in ctes)


def upstream(models: list[Model], name: str) -> list[Model]:
    """Model `name` and every model it needs, directly or not, in run order."""
    by_name = {model.name: model for model in models}
    needed: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current not in needed:
            needed.add(current)
            pending.extend(by_name[current].depends_on)
    return [model for model in models if model.name in needed]


def mart_names(sql_dir: Path = SQL_DIR) -> list[str]:
    """The warehouse tables a close publishes: one per file in `sql/marts/`."""
    return sorted(path.stem for path in (sql_dir / "marts").glob("*.sql"))


def write_close_params(con: duckdb.DuckDBPyConnection, period: ClosePeriod, as_of: date) -> None:
    """The one-row parameter table every model reads its period from."""
    con.execute("create schema if not exists build")
    con.execute(
        """
        create or replace table build.close_params as
        select
            cast(? as varchar) as period,
            cast(? as timestamp) as period_start,
            cast(? as timestamp) as period_end,
            cast(? as integer) as days_in_month,
            cast(? as date) as invoice_date,
            cast(? as date) as due_date,
            cast(? as date) as as_of
        """,
        [
            period.period,
            period.start,
            period.end,
            period.days_in_month,
            period.invoice_date,
            period.due_date,
            as_of,
        ],
    )


def prepare_session(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> None:
    """Macros and the search path the models expect (build first, then main)."""
    con.execute("create schema if not exists build")
    con.execute((sql_dir / "macros.sql").read_text())
    con.execute("set search_path = 'build,main'")


def create_temp_macros(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> None:
    """The models' macros as temporary ones, on this connection only.

    The load types the usage snapshots with the models' own parsers (`parse_utc`,
    `parse_count`) as it reads them; temporary, so that a load writes nothing outside
    the `build` schema and a load that fails leaves the warehouse as it was.
    """
    sql = (sql_dir / "macros.sql").read_text()
    con.execute(sql.replace("create or replace macro", "create or replace temp macro"))


def build_models(
    con: duckdb.DuckDBPyConnection,
    period: ClosePeriod,
    as_of: date,
    sql_dir: Path = SQL_DIR,
    timings: dict[str, float] | None = None,
    only: Collection[str] | None = None,
    parallel: int | None = None,
) -> list[str]:
    """Materialise every model as `build.<name>`; returns the names in run order.

    `only` runs just those models (still in dependency order), the others being
    already in `build`: the sharded close runs the per-account models on each
    shard and the global ones once, over the shards' merged results. `parallel`:
    models run at once (`run_models`).
    """
    prepare_session(con, sql_dir)
    write_close_params(con, period, as_of)
    models = discover_models(sql_dir)
    if only is not None:
        models = [model for model in models if model.name in only]
    return run_models(con, models, timings, parallel)


# Models run two at a time: most models are small (100k rows) and spend much of their
# time in single-threaded work (a window, a recursive CTE, the commit), so a second
# model beside them fills the idle core. More would only queue on the same threads.
PARALLEL_MODELS = 2

# Settings a DuckDB connection keeps for itself (the others are the database's): each
# worker cursor copies them from the connection the close prepared.
_SESSION_SETTINGS = ("search_path", "TimeZone", "enable_progress_bar")


def run_models(
    con: duckdb.DuckDBPyConnection,
    models: list[Model],
    timings: dict[str, float] | None = None,
    parallel: int | None = None,
) -> list[str]:
    """Materialise `models` (already in run order) as `build.<name>`, in a prepared session.

    Up to `parallel` (default PARALLEL_MODELS) models run at once, each on its own
    cursor of `con` (DuckDB releases the GIL while a query runs). A model starts only
    once every model it reads is built, so it reads what it would in run order: the
    schedule changes the time, never a row. Among the models ready, the one with the
    longest chain of models waiting on it goes first, so the snapshot chain is never
    left for last. A failure lets the running models finish, starts no other, and
    reports the failed model that comes first in run order. `timings` are each model's
    own wall time (they overlap). Returns the names in run order.
    """
    parallel = PARALLEL_MODELS if parallel is None else parallel
    if parallel <= 1 or len(models) <= 1:
        for model in models:
            _run_timed(con, model, timings)
        return [model.name for model in models]
    names = {model.name for model in models}
    waiting_on = {m.name: {d for d in m.depends_on if d in names} for m in models}
    priority = _chain_lengths(models, waiting_on)
    position = {model.name: number for number, model in enumerate(models)}
    by_name = {model.name: model for model in models}
    cursors = [_session_cursor(con) for _ in range(parallel)]
    done: set[str] = set()
    failures: dict[str, BaseException] = {}
    running: dict[Future[None], tuple[str, duckdb.DuckDBPyConnection]] = {}
    try:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="model") as pool:
            while True:
                ready = sorted(
                    (
                        name
                        for name, needs in waiting_on.items()
                        if needs <= done and name not in done
                    ),
                    key=lambda name: (-priority[name], position[name]),
                )
                while ready and cursors and not failures:
                    name = ready.pop(0)
                    del waiting_on[name]
                    cursor = cursors.pop()
                    future = pool.submit(_run_timed, cursor, by_name[name], timings)
                    running[future] = (name, cursor)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    name, cursor = running.pop(future)
                    cursors.append(cursor)
                    if future.exception() is not None:
                        failures[name] = future.exception()
                    else:
                        done.add(name)
    finally:
        for cursor in cursors:
            cursor.close()
    if failures:
        raise failures[min(failures, key=position.__getitem__)]
    return [model.name for model in models]


def _run_timed(
    con: duckdb.DuckDBPyConnection, model: Model, timings: dict[str, float] | None
) -> None:
    started = time.perf_counter()
    try:
        _materialize(con, model)
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise RuntimeError(f"model {model.layer}/{model.name}.sql failed: {first_line}") from error
    if timings is not None:
        timings[model.name] = time.perf_counter() - started


def _session_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the same database, with `con`'s session settings."""
    cursor = con.cursor()
    for setting in _SESSION_SETTINGS:
        value = con.execute("select current_setting(?)", [setting]).fetchone()[0]
        cursor.execute(f"set {setting} = ?", [value])
    return cursor


def _chain_lengths(models: list[Model], waiting_on: dict[str, set[str]]) -> dict[str, int]:
    """For each model, the most models that run one after another once it is built."""
    readers: dict[str, list[str]] = {model.name: [] for model in models}
    for name, needs in waiting_on.items():
        for need in needs:
            readers[need].append(name)
    lengths: dict[str, int] = {}
    for model in reversed(models):  # readers come later in run order
        lengths[model.name] = 1 + max((lengths[r] for r in readers[model.name]), default=0)
    return lengths


def _materialize(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """`build.<name>` as the model's header asks, replacing whatever kind was there before."""
    kind = model.materialized
    existing = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'build' and table_name = ? and table_catalog = current_database()",
        [model.name],
    ).fetchone()
    if existing and existing[0] == ("VIEW" if kind == "table" else "BASE TABLE"):
        con.execute(f"drop {'view' if kind == 'table' else 'table'} build.{model.name}")
    con.execute(f"create or replace {kind} build.{model.name} as (\n{model.sql}\n)")
