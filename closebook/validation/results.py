"""What a validation run found: one `CheckResult` per expectation, stored and summarised.

Kept apart from the suites and the runner so the pipeline and the workbooks step can
record and read results without importing great-expectations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

RESULTS_TABLE = "validation_results"

RESULTS_COLUMNS = (
    ("period", "varchar"),
    ("suite", "varchar"),
    ("check_name", "varchar"),
    ("expectation", "varchar"),
    ("table_name", "varchar"),
    ("column_name", "varchar"),
    ("description", "varchar"),
    ("status", "varchar"),
    ("success", "boolean"),
    ("element_count", "bigint"),
    ("unexpected_count", "bigint"),
    ("examples", "varchar"),
    ("details", "varchar"),
    ("attributed_invoices", "varchar"),
    ("action", "varchar"),
)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation (or one external check) of one close.

    status: `passed`, `failed` or `skipped` (its table does not exist in this build).
    action: what the failure did: `none`, `held` (attributed_invoices were held) or
    `run_failed` (nothing to hold: the close must not publish).
    """

    suite: str
    check: str
    expectation: str
    table: str
    column: str | None
    description: str
    status: str
    element_count: int = 0
    unexpected_count: int = 0
    examples: tuple[str, ...] = ()
    details: str = ""
    attributed_invoices: tuple[str, ...] = ()
    action: str = "none"

    @property
    def success(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "passed"


@dataclass(frozen=True)
class ValidationResult:
    """Every check of a close, the failures, the invoices they held, and whether to stop."""

    period: str
    checks: list[CheckResult]
    failed: list[CheckResult]
    held_invoices: list[str]
    run_failed: bool
    report_path: Path | None

    @property
    def skipped(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "skipped"]

    def one_line(self) -> str:
        """A one-line summary, e.g. for the CLI's error when the run failed."""
        stopping = [c for c in self.failed if c.action == "run_failed"]
        if stopping:
            names = ", ".join(sorted({f"{c.suite}.{c.check}" for c in stopping}))
            return (
                f"validation failed for {self.period}: {len(stopping)} check(s) cannot be "
                f"pinned on an invoice ({names}); nothing was published"
            )
        if self.failed:
            return (
                f"validation of {self.period}: {len(self.failed)} check(s) failed; "
                f"{len(self.held_invoices)} invoice(s) held"
            )
        return f"validation of {self.period}: {len(self.checks) - len(self.skipped)} checks passed"


def record_external_check(
    con: duckdb.DuckDBPyConnection,
    period: str,
    name: str,
    passed: bool,
    details: str = "",
    schema: str = "build",
) -> CheckResult:
    """Record a check run outside GX (e.g. the workbooks' per-currency totals) with the rest.

    The workbooks are written after publish, so call it with schema='main' then (the
    published validation_results of the period get the row too); it never holds or fails
    anything by itself: the caller decides.
    """
    result = CheckResult(
        suite="external",
        check=name,
        expectation="external",
        table="",
        column=None,
        description=name.replace("_", " "),
        status="passed" if passed else "failed",
        details=details,
        action="none",
    )
    ensure_results_table(con, schema)
    insert_results(con, schema, period, [result])
    return result


def ensure_results_table(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in RESULTS_COLUMNS)
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table if not exists {schema}.{RESULTS_TABLE} ({columns})")


def store_results(con: duckdb.DuckDBPyConnection, period: str, results: list[CheckResult]) -> None:
    """`build.validation_results`, rebuilt by every validation of the build."""
    con.execute(f"drop table if exists build.{RESULTS_TABLE}")
    ensure_results_table(con, "build")
    insert_results(con, "build", period, results)


def insert_results(
    con: duckdb.DuckDBPyConnection, schema: str, period: str, results: list[CheckResult]
) -> None:
    """The results as rows of `schema.validation_results`, in one statement (executemany
    commits each row on its own: 0.1-0.2 s for a close's 63 results)."""
    if not results:
        return
    row = "(" + ", ".join("?" for _ in RESULTS_COLUMNS) + ")"
    con.execute(
        f"insert into {schema}.{RESULTS_TABLE} values " + ", ".join(row for _ in results),
        [value for result in results for value in _values(period, result)],
    )


def _values(period: str, r: CheckResult) -> list[Any]:
    """One result's row, in RESULTS_COLUMNS order."""
    return [
        period,
        r.suite,
        r.check,
        r.expectation,
        r.table,
        r.column,
        r.description,
        r.status,
        r.success,
        r.element_count,
        r.unexpected_count,
        " | ".join(r.examples),
        r.details,
        ", ".join(r.attributed_invoices),
        r.action,
    ]


def replace_result(result: CheckResult, **changes: Any) -> CheckResult:
    return replace(result, **changes)


def snake(kind: str) -> str:
    out = []
    for char in kind:
        if char.isupper() and out:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def some(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
