"""The warehouse schema is declared, documented in the warehouse, checked before a close
writes, and migrated from the shape closebook wrote before it was declared (issue 12
item 5: tables that are not closebook's)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.loading import load_exports
from closebook.models import ClosePeriod, build_models, mart_names
from closebook.pipeline import CloseFailed, close_period
from closebook.publish import publish_period
from closebook.warehouse_doc import render
from closebook.warehouse_guard import WarehouseSchemaError, check_keys, check_warehouse
from closebook.warehouse_schema import SCHEMA_VERSION, TABLES, TABLES_BY_NAME, VIEWS
from tests.exports import account, rows, write_exports

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = {"account_id": "A", "observed_at": "2026-10-05", "metric": "users", "quantity": "3"}


def exports(tmp_path: Path) -> Path:
    """A: hwm, C = 2 at 10.00 USD, HWM 3 -> base 20.00 and overage 10.00."""
    return write_exports(
        tmp_path / "exports",
        accounts=[account("A", contracted_quantity="2")],
        usage_snapshots=[SNAPSHOT],
        billed_invoices=[
            {
                "invoice_number": "2026-10-A-BASE",
                "account_id": "A",
                "period": "2026-10",
                "currency": "USD",
                "amount": "20.00",
            }
        ],
        payments=[],
    )


def publish(con: duckdb.DuckDBPyConnection, folder: Path, period: str) -> None:
    load_exports(con, folder)
    build_models(con, ClosePeriod.parse(period), date(2026, 11, 20))
    publish_period(con, period)


def main_shape(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(
        "select column_name, data_type, is_nullable, comment from duckdb_columns() "
        "where schema_name = 'main' and table_name = ? order by column_index",
        [table],
    ).fetchall()


def snapshot_of_main(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' order by 1"
        ).fetchall()
    ]
    return {
        t: (main_shape(con, t), con.execute(f"select * from main.{t}").fetchall()) for t in tables
    }


def test_every_mart_is_declared_with_the_types_it_builds(tmp_path: Path) -> None:
    con = duckdb.connect()
    load_exports(con, exports(tmp_path))
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 11, 20))
    for mart in mart_names():
        assert mart in TABLES_BY_NAME, f"mart {mart} has no declared warehouse table"
        built = con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = 'build' and table_name = ? order by column_index",
            [mart],
        ).fetchall()
        declared = [(c.name, c.type) for c in TABLES_BY_NAME[mart].columns]
        assert built == declared, mart


def test_a_close_writes_the_declared_shape_with_keys_and_comments(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    close_period("2026-10", exports(tmp_path), warehouse, tmp_path / "reports", date(2026, 11, 20))
    con = duckdb.connect(str(warehouse), read_only=True)
    for table in TABLES:
        assert main_shape(con, table.name) == [
            (c.name, c.type, not c.not_null, c.comment) for c in table.columns
        ], table.name
        comment = con.execute(
            "select comment from duckdb_tables() where schema_name = 'main' and table_name = ?",
            [table.name],
        ).fetchone()
        assert comment == (table.catalog_comment,)
        if table.key:  # the key is named in the comment an analyst reads
            assert comment[0].endswith(f"Key: {', '.join(table.key)} (unique; checked by publish).")
    for view in VIEWS:
        assert [(n, t, c) for n, t, _, c in main_shape(con, view.name)] == [
            (c.name, c.type, c.comment) for c in view.columns
        ], view.name
    assert rows(con, "select version from main.closebook_schema") == [{"version": SCHEMA_VERSION}]


def test_a_foreign_invoices_table_stops_the_close_and_changes_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table invoices (invoice_id integer, customer varchar, amount double)")
    con.execute("insert into invoices values (1, 'someone else', 12.5)")
    before = snapshot_of_main(con)
    con.close()
    with pytest.raises(CloseFailed) as failure:
        close_period("2026-10", exports(tmp_path), warehouse, tmp_path / "reports")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("warehouse table main.invoices is not closebook's (missing ")
    assert "unexpected invoice_id, customer, amount" in message
    con = duckdb.connect(str(warehouse), read_only=True)
    assert snapshot_of_main(con) == before  # no column added, no row mixed in, no new table


def test_the_cli_says_so_in_one_line_and_exits_1(tmp_path: Path, capsys) -> None:
    from closebook.cli import main

    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table payments (id integer)")
    con.close()
    code = main(
        [
            "close",
            "--period",
            "2026-10",
            "--input",
            str(exports(tmp_path)),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(tmp_path / "reports"),
            "--no-prefect",
        ]
    )
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert len(err) == 1 and "main.payments is not closebook's" in err[0]


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        # a closebook table whose type was changed after the fact
        (
            "alter table main.invoices alter total type double",
            "main.invoices is not closebook's (total is DOUBLE, expected DECIMAL(18,2))",
        ),
        # a table under a view's name
        (
            "drop view main.dso; create table main.dso (x integer)",
            "main.dso is not closebook's (closebook keeps a view by that name)",
        ),
        # a warehouse from a later closebook
        (
            "insert into main.closebook_schema values (3, now())",
            "schema version 3, newer than this closebook's 2",
        ),
    ],
)
def test_a_changed_warehouse_is_refused_before_loading(tmp_path: Path, ddl, message) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    publish(con, exports(tmp_path), "2026-10")
    con.execute(ddl)
    with pytest.raises(WarehouseSchemaError) as failure:
        check_warehouse(con)
    assert message in str(failure.value)


# The shape main wrote before the schema was declared (version 1): tables created from
# the marts (create table as ... where false), every column nullable, no keys, no
# comments, no version record; no ar_aging, accounts, billed_invoices or payments.
V1_DDL = """
create table invoices (invoice_number varchar, period varchar, account_id varchar,
    invoice_type varchar, currency varchar, total decimal(18, 2), invoice_date date,
    due_date date, payment_action varchar, status varchar, hold_reason varchar,
    issuing_paused boolean, account_name varchar, billing_email varchar);
create table invoice_lines (invoice_number varchar, line_no integer, description varchar,
    quantity bigint, unit_price decimal(18, 6), amount decimal(18, 2), period varchar);
create table load_counts (period varchar, file varchar, rows_read bigint, accepted bigint,
    duplicates bigint, rejected bigint);
create table close_runs (period varchar, started_at timestamp, finished_at timestamp,
    input_dir varchar, as_of date, exit_code integer, summary varchar);
insert into invoices values ('2026-09-A-BASE', '2026-09', 'A', 'base', 'USD', 20.00,
    '2026-10-03', '2026-11-02', 'autopay', 'issued', null, false, 'Account A', null);
insert into invoice_lines values ('2026-09-A-BASE', 1, 'Contracted users: 2', 2, 10.00,
    20.00, '2026-09');
insert into load_counts values ('2026-09', 'accounts.csv', 1, 1, 0, 0);
insert into close_runs values ('2026-09', '2026-10-03 06:00:00', '2026-10-03 06:00:30',
    'exports', '2026-10-03', 0, 'closed');
"""


def test_a_warehouse_from_before_the_declared_schema_is_migrated(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(V1_DDL)
    assert check_warehouse(con) == 1
    publish(con, exports(tmp_path), "2026-10")

    assert rows(con, "select version from main.closebook_schema") == [{"version": SCHEMA_VERSION}]
    # September's rows are kept; the columns they did not have read null
    assert rows(
        con,
        "select invoice_number, amount, product, days_in_month from main.invoice_lines "
        "where period = '2026-09'",
    ) == [
        {
            "invoice_number": "2026-09-A-BASE",
            "amount": 20,
            "product": None,
            "days_in_month": None,
        }
    ]
    assert rows(con, "select period, count(*) as n from main.invoices group by 1 order by 1") == [
        {"period": "2026-09", "n": 1},
        {"period": "2026-10", "n": 2},  # base 2 x 10.00, overage 1 x 10.00
    ]
    assert rows(con, "select period, summary from main.close_runs") == [
        {"period": "2026-09", "summary": "closed"}
    ]
    # the migrated tables have the declared shape, keys included
    for name in ("invoices", "invoice_lines", "load_counts", "close_runs"):
        table = TABLES_BY_NAME[name]
        assert main_shape(con, name) == [
            (c.name, c.type, not c.not_null, c.comment) for c in table.columns
        ]
    check_keys(con, "main")  # every key unique over the old and the new rows
    assert check_warehouse(con) == SCHEMA_VERSION


def test_a_migration_that_cannot_keep_the_rows_changes_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(V1_DDL)
    # the same invoice twice: it cannot keep its key
    con.execute("insert into invoices select * from invoices")
    before = snapshot_of_main(con)
    with pytest.raises(WarehouseSchemaError, match="main.invoices cannot be migrated"):
        publish(con, exports(tmp_path), "2026-10")
    assert snapshot_of_main(con) == before


def test_a_repeated_key_publishes_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    publish(con, exports(tmp_path), "2026-10")
    before = snapshot_of_main(con)
    # a build in which one invoice line appears twice (a bug upstream, not an input row)
    con.execute("insert into build.invoice_lines select * from build.invoice_lines limit 1")
    with pytest.raises(WarehouseSchemaError) as failure:
        publish_period(con, "2026-10")
    assert str(failure.value) == (
        "build.invoice_lines has more than one row for invoice_number = 2026-10-A-BASE, "
        "line_no = 1; nothing was published"
    )
    assert snapshot_of_main(con) == before


def test_an_old_table_with_a_foreign_column_is_not_migrated(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(V1_DDL)
    con.execute("alter table load_counts add column note varchar")
    with pytest.raises(WarehouseSchemaError, match="main.load_counts .*unexpected note"):
        check_warehouse(con)
    # and a table version 1 never had is not closebook's in an unversioned warehouse
    con.execute("alter table load_counts drop column note")
    con.execute("create table accounts (account_id varchar)")
    with pytest.raises(WarehouseSchemaError, match="main.accounts .*closebook 1 has no such"):
        check_warehouse(con)


def test_docs_warehouse_md_is_written_from_the_schema() -> None:
    doc = (ROOT / "docs" / "warehouse.md").read_text()
    assert doc == render(), "docs/warehouse.md is stale: run scripts/write_warehouse_doc.py"


def test_readme_lists_exactly_the_warehouse_tables_and_views() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The warehouse", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    assert listed == {t.name for t in TABLES} | {v.name for v in VIEWS}
    assert "docs/warehouse.md" in section
