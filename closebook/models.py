"""Run the SQL models under `sql/` in dependency order, each into a `build.<name>` table.

A deliberately small runner: the SQL files stay plain (an analyst can `.read`
them in the DuckDB CLI), dependencies are the model names a file mentions, and
the only parameters (the period and its dates) live in `build.close_params`,
written with bound values so no SQL text is ever pasted together from input.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from graphlib import TopologicalSorter
from importlib.resources import files
from pathlib import Path

import duckdb

# The models ship inside the package (`sql/` of the repository, `closebook.sql` once
# installed): found the same way from a checkout, an editable install or a wheel.
SQL_DIR = Path(str(files("closebook.sql")))
LAYERS = ("staging", "intermediate", "marts")


class PeriodError(ValueError):
    """The period is not a calendar month written YYYY-MM."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str


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
        match = re.fullmatch(r"(\d{4})-(\d{2})", period)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise PeriodError(f"period '{period}' is not a month written YYYY-MM")
        year, month = int(match.group(1)), int(match.group(2))
        start = datetime(year, month, 1)
        days = calendar.monthrange(year, month)[1]
        end = start + timedelta(days=days)
        invoice_date = date(end.year, end.month, 3)
        return cls(period, start, end, days, invoice_date, invoice_date + timedelta(days=30))


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every `.sql` file of the three layers, in the order they must run."""
    models = {
        path.stem: Model(path.stem, layer, path, path.read_text())
        for layer in LAYERS
        for path in sorted((sql_dir / layer).glob("*.sql"))
    }
    graph: dict[str, set[str]] = {}
    for model in models.values():
        text = _strip_comments(model.sql)
        graph[model.name] = {
            other
            for other in models
            if other != model.name and re.search(rf"\b{re.escape(other)}\b", text)
        }
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(ready)
        sorter.done(*ready)
    return [models[name] for name in ordered]


def mart_names(sql_dir: Path = SQL_DIR) -> list[str]:
    """The warehouse tables a close publishes: one per file in `sql/marts/`."""
    return sorted(path.stem for path in (sql_dir / "marts").glob("*.sql"))


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


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


def build_models(
    con: duckdb.DuckDBPyConnection,
    period: ClosePeriod,
    as_of: date,
    sql_dir: Path = SQL_DIR,
    timings: dict[str, float] | None = None,
) -> list[str]:
    """Materialise every model as `build.<name>`; returns the names in run order."""
    prepare_session(con, sql_dir)
    write_close_params(con, period, as_of)
    names = []
    for model in discover_models(sql_dir):
        started = time.perf_counter()
        try:
            con.execute(f"create or replace table build.{model.name} as (\n{model.sql}\n)")
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise RuntimeError(
                f"model {model.layer}/{model.name}.sql failed: {first_line}"
            ) from error
        if timings is not None:
            timings[model.name] = time.perf_counter() - started
        names.append(model.name)
    return names
