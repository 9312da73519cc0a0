"""How a check is written: a frame (SQL over the build tables) and the expectations on it.

A `Check` is one SQL query returning one row per thing checked (per-row differences
and flags computed in SQL) and the great-expectations expectations that must hold on
its columns. The suites (`input_suite`, `output_suite`) are lists of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY")
# Expectations on the column as a whole (its type), not on each value.
COLUMN_LEVEL = frozenset({"ExpectColumnValuesToBeInTypeList"})


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    """A constant of an expectation's kwargs as SQL (they are ours, never input text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


@dataclass(frozen=True)
class Expect:
    """One GX expectation: its class in `great_expectations.expectations`, and plain words."""

    kind: str
    column: str | None
    says: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def breaks(self) -> str:
        """SQL that is true for a row this expectation would count as unexpected.

        The same rule GX applies, written for DuckDB so that only the rows that can fail
        leave the database: null values are not unexpected for GX's value expectations
        (only `not_null` counts them), so a null comparison here is not true either.
        Column-level expectations (the column's type) select no row: GX judges them on
        the frame's column type, which the pushed-down frame keeps.
        """
        column = _quote_ident(self.column) if self.column else None
        if self.kind == "ExpectColumnValuesToBeBetween":
            bounds = []
            if "min_value" in self.kwargs:
                bounds.append(f"{column} < {_literal(self.kwargs['min_value'])}")
            if "max_value" in self.kwargs:
                bounds.append(f"{column} > {_literal(self.kwargs['max_value'])}")
            return "(" + " or ".join(bounds) + ")" if bounds else "false"
        if self.kind == "ExpectColumnValuesToBeInSet":
            values = ", ".join(_literal(v) for v in self.kwargs["value_set"])
            return f"({column} not in ({values}))"
        if self.kind == "ExpectColumnValuesToNotBeNull":
            return f"({column} is null)"
        if self.kind in COLUMN_LEVEL:
            return "false"
        raise ValueError(f"no SQL push-down for {self.kind}: add it to Expect.breaks")


@dataclass(frozen=True)
class Check:
    """A frame (SQL over build tables, period from close_params) and what must hold on it.

    attribute_by names the frame column that pins a failing row on invoices:
    `invoice_number`, `account_id` (all the account's invoices of the period), or None.
    requires: tables (`name` or `name.column`) without which the check is skipped.
    grain: how to count the rows checked without running a heavy frame twice: `frame`
    (count the frame), a table name (the frame has one row per row of that table,
    e.g. a left join from it; tests/test_validation.py checks the claim), or
    `failures` (the frame holds only rows that can fail, e.g. keys seen twice: the
    rows GX sees are all there are).
    """

    suite: str
    name: str
    table: str
    sql: str
    expectations: tuple[Expect, ...]
    attribute_by: str | None
    requires: tuple[str, ...] = ()
    grain: str = "frame"

    def count_sql(self) -> str | None:
        """How many rows the frame has (GX's element_count); None: the failing rows' count."""
        if self.grain == "failures":
            return None
        if self.grain == "frame":
            return f"select count(*) from (\n{self.sql}\n) as frame"
        return f"select count(*) from {self.grain}"

    def breaks_sql(self) -> str:
        """True for a frame row that breaks at least one of the check's expectations."""
        return " or ".join(f"coalesce({e.breaks()}, false)" for e in self.expectations)

    def tally_sql(self) -> str | None:
        """(rows in the frame, rows that can fail) in one pass; None unless grain is `frame`.

        On a clean close that pass is all the check costs in DuckDB: with no failing row
        the failing-rows query only has to say what columns it would return."""
        if self.grain != "frame":
            return None
        return (
            f"select count(*), count(*) filter (where {self.breaks_sql()}) "
            f"from (\n{self.sql}\n) as frame"
        )

    def failing_rows_sql(self) -> str:
        """The frame's rows that break at least one expectation: all GX needs to see."""
        return f"select * from (\n{self.sql}\n) as frame where {self.breaks_sql()}"


def between(column: str, says: str, low: int | None = None, high: int | None = None) -> Expect:
    kwargs: dict[str, Any] = {}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    return Expect("ExpectColumnValuesToBeBetween", column, says, kwargs)


def zero(column: str, says: str) -> Expect:
    return between(column, says, 0, 0)


def true(column: str, says: str) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", column, says, {"value_set": [True]})


def in_set(column: str, values: Sequence[str], says: str) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", column, says, {"value_set": list(values)})


def not_null(column: str, says: str) -> Expect:
    return Expect("ExpectColumnValuesToNotBeNull", column, says)


def unique_key(table: str, key: Sequence[str], attribute: str | None) -> Check:
    """Keys that appear more than once (SQL decides, so it is exact across chunks).

    Counting every key of 10.8M snapshots (a hash table of 10.8M groups) cost 1.6-1.9 s
    of CPU at 100k accounts. So the keys' 64-bit hashes are sorted first, and a hash
    equal to the one before it points at keys that may repeat (equal keys hash
    alike; a collision only adds a key to count); only the rows with such a hash are
    then grouped and counted by the key itself: 1.1 s of CPU, and on a clean close
    DuckDB skips the second scan (nothing to look up).
    """
    key_list = ", ".join(key)
    extra = ""
    if attribute and attribute not in key:
        extra = f", min({attribute}) as {attribute}"
    return Check(
        "input",
        f"{table}_key_unique",
        table,
        f"""
        with hashed as (
            select hash({key_list}) as key_hash from {table}
        ),
        repeated as (
            select key_hash from (
                select key_hash, key_hash = lag(key_hash) over (order by key_hash) as again
                from hashed
            )
            where again
        )
        select {key_list}{extra}, count(*) as copies from {table}
        where hash({key_list}) in (select key_hash from repeated)
        group by {key_list} having count(*) > 1
        """,
        (between("copies", f"each {' + '.join(key)} appears once among accepted rows", 1, 1),),
        attribute,
        grain="failures",
    )


# Money columns are compared in hundredths (bigint): exact for every currency we bill in
