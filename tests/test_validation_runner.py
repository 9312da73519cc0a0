"""How validation spends its time without changing a verdict (closebook/validation/):
DuckDB counts each check's rows and failing rows in one pass, GX judges every check with
no failing row in one validation, and a check with failing rows on its own, as before.

The build and the tampers are tests/test_validation.py's: every rule broken on purpose.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from closebook.validation import INPUT_CHECKS, OUTPUT_CHECKS, validate_close
from closebook.validation.checks import unique_key
from closebook.validation.gx_runner import GxRunner
from closebook.validation.output_suite import expected_invoices_check
from closebook.validation.runner import _present_tables
from tests.exports import build, write_exports
from tests.test_validation import EXPORTS, PERIOD, TAMPERS

ALL_TAMPERS = tuple(dict.fromkeys(t[0] for t in TAMPERS))
SECONDS = re.compile(r" in \d+\.\d\ds")


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    database = folder / "close.duckdb"
    build(write_exports(folder / "in", **EXPORTS), PERIOD, database=str(database)).close()
    return database


@pytest.fixture
def con(built_db: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    copy = tmp_path / "close.duckdb"
    shutil.copy(built_db, copy)
    connection = duckdb.connect(str(copy))
    connection.execute("set search_path = 'build,main'")
    return connection


def replace_snapshots(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """int_usage_snapshots (a view or a table) becomes `select`, over its old rows
    copied to build.snapshots_copy."""
    con.execute("create table build.snapshots_copy as select * from build.int_usage_snapshots")
    (kind,) = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'build' and table_name = 'int_usage_snapshots'"
    ).fetchone()
    con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} build.int_usage_snapshots")
    con.execute(f"create view build.int_usage_snapshots as {select}")


def quantity_as_double(con: duckdb.DuckDBPyConnection) -> None:
    """int_usage_snapshots with quantity a double: GX fails the type rule on an empty frame."""
    replace_snapshots(
        con, "select * replace (cast(quantity as double) as quantity) from build.snapshots_copy"
    )


def every_check(con: duckdb.DuckDBPyConnection) -> list:
    return [*INPUT_CHECKS, *OUTPUT_CHECKS, expected_invoices_check(_present_tables(con))]


def comparable(judged: list) -> list:
    """Results without their seconds, examples as a set: a frame built by a group by or a
    join has no row order of its own, so two runs may list the same failing rows in
    another order (as they always could)."""
    return [
        (
            replace(
                result,
                details=SECONDS.sub("", result.details),
                examples=tuple(sorted(result.examples)),
            ),
            keys,
        )
        for result, _, keys in judged
    ]


@pytest.mark.parametrize(
    "tamper",
    [(), ALL_TAMPERS, (quantity_as_double,)],
    ids=["clean", "every-rule-broken", "quantity-a-double"],
)
def test_judging_the_checks_together_gives_what_judging_each_alone_gives(
    con: duckdb.DuckDBPyConnection, tamper: tuple
) -> None:
    for step in tamper:
        step(con) if callable(step) else con.execute(step)
    checks = every_check(con)
    runner = GxRunner()
    together = runner.run_all(con, checks)
    alone = [row for check in checks for row in runner.run(con, check)]
    assert comparable(together) == comparable(alone)
    statuses = {result.status for result, _, _ in together}
    assert statuses == ({"passed"} if not tamper else {"passed", "failed"})


def test_quantity_of_the_wrong_type_fails_with_what_gx_observed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # The empty frame of the clean checks keeps each column's type: GX judges a double.
    quantity_as_double(con)
    result = validate_close(con, PERIOD, None)
    (failure,) = result.failed
    assert (failure.check, failure.expectation) == (
        "usage_snapshots_values",
        "expect_column_values_to_be_in_type_list",
    )
    assert failure.examples == ("observed float64",) and failure.action == "run_failed"


def test_a_clean_close_is_one_gx_validation(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = spy_on_validations(monkeypatch)
    result = validate_close(con, PERIOD, None)
    assert not result.failed and len(result.checks) == 63
    assert suites == ["clean_checks"]  # 24 checks, 63 expectations: one validation


def test_a_check_with_failing_rows_is_judged_on_its_own(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    con.execute("update int_accounts set payment_method = 'cheque' where account_id = 'B12'")
    suites = spy_on_validations(monkeypatch)
    result = validate_close(con, PERIOD, None)
    assert [(c.check, c.column) for c in result.failed] == [("accounts_values", "payment_method")]
    assert suites == ["input.accounts_values", "clean_checks"]


def spy_on_validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    suites: list[str] = []
    validate = GxRunner._validate

    def spy(self: GxRunner, frame: object, suite: object, result_format: dict) -> object:
        suites.append(suite.name)  # type: ignore[attr-defined]
        return validate(self, frame, suite, result_format)

    monkeypatch.setattr(GxRunner, "_validate", spy)
    return suites


def test_one_pass_counts_the_frame_and_its_failing_rows(con: duckdb.DuckDBPyConnection) -> None:
    for sql in ALL_TAMPERS:
        con.execute(sql)
    framed = [c for c in every_check(con) if c.tally_sql() is not None]
    assert {c.name for c in framed} >= {"accounts_values", "invoice_totals"}
    for check in framed:
        tally = con.execute(check.tally_sql()).fetchone()
        (rows,) = con.execute(check.count_sql()).fetchone()
        (failing,) = con.execute(f"select count(*) from ({check.failing_rows_sql()})").fetchone()
        assert tally == (rows, failing), check.name
    accounts = next(c for c in framed if c.name == "accounts_values")
    # 18 accounts in the export; B12's payment method 'cheque' is the one failing row
    assert con.execute(accounts.tally_sql()).fetchone() == (len(EXPORTS["accounts"]), 1)


KNOWN_ACCOUNT_FRAMES = {
    # check: (table, columns it needs besides account_id)
    "usage_snapshots_values": (
        "int_usage_snapshots",
        "metric varchar, quantity bigint, observed_at timestamp",
    ),
    "license_events_values": (
        "int_license_events",
        "event_id varchar, event varchar, occurred_at timestamp, license_id varchar, "
        "product varchar",
    ),
    "balance_transactions_values": (
        "int_balance_transactions",
        "txn_id varchar, kind varchar, occurred_at timestamp, device_months integer, "
        "amount decimal(18, 2)",
    ),
    "billed_invoices_values": (
        "int_billed_invoices",
        "invoice_number varchar, currency varchar, amount decimal(18, 2)",
    ),
}


@pytest.mark.parametrize("name", sorted(KNOWN_ACCOUNT_FRAMES))
def test_known_account_is_false_for_an_unknown_or_blank_account(name: str) -> None:
    # As `exists (select 1 from int_accounts where account_id = ...)` says, also when
    # int_accounts itself holds a blank id: A1 known; Z9 unknown; a blank id unknown.
    check = next(c for c in INPUT_CHECKS if c.name == name)
    table, columns = KNOWN_ACCOUNT_FRAMES[name]
    memory = duckdb.connect()
    memory.execute("create table int_accounts (account_id varchar)")
    memory.execute("insert into int_accounts values ('A1'), (null)")
    memory.execute(f"create table {table} (account_id varchar, {columns})")
    known = {}
    for account in ("A1", "Z9", None):
        memory.execute(f"delete from {table}")
        memory.execute(f"insert into {table} (account_id) values (?)", [account])
        (known[account],) = memory.execute(f"select known_account from ({check.sql})").fetchone()
    assert known == {"A1": True, "Z9": False, None: False}


def test_hwm_failures_come_in_the_order_of_hwm_usage(con: duckdb.DuckDBPyConnection) -> None:
    # The examples are the first failing rows: hwm_usage's own order, whichever side of
    # its join with the snapshots DuckDB builds (on the 10k bench warehouse with 4,256
    # failing accounts, the join without `order by usage.rowid` listed them in another
    # order on every run; this small build keeps its order either way).
    con.execute("update hwm_usage set hwm = 0 where account_id in ('O2', 'B1', 'C8', 'B13')")
    check = next(c for c in OUTPUT_CHECKS if c.name == "hwm_covers_snapshots")
    failing = [row[0] for row in con.execute(check.failing_rows_sql()).fetchall()]
    in_table_order = [
        account
        for (account,) in con.execute("select account_id from hwm_usage order by rowid").fetchall()
        if account in {"O2", "B1", "C8", "B13"}
    ]
    assert failing == in_table_order and len(failing) == 4


def test_unique_key_finds_exactly_the_keys_seen_twice_nulls_too() -> None:
    # The sorted hashes only point at candidates; the counts are by the key itself.
    # (a, 1) twice and (b, null) twice repeat (a group by puts nulls together); (a, 2),
    # (b, 1) and (c, null) are each seen once.
    memory = duckdb.connect()
    memory.execute("create table things (name varchar, n integer, owner varchar)")
    memory.execute(
        "insert into things values ('a', 1, 'x'), ('a', 1, 'w'), ('a', 2, 'x'), "
        "('b', null, 'y'), ('b', null, 'v'), ('b', 1, 'y'), ('c', null, 'z')"
    )
    check = unique_key("things", ["name", "n"], "owner")
    found = memory.execute(f"select * from ({check.sql}) order by name").fetchall()
    assert found == [("a", 1, "w", 2), ("b", None, "v", 2)]  # min(owner), copies
