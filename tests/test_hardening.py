"""Hostile months (issue 12): paths are read literally, the period is ASCII YYYY-MM,
blank is blank in Parquet too, out-of-range offsets and mixed line breaks are caught,
and a file or warehouse that cannot be used is one line saying what to do.
"""

from __future__ import annotations

import csv
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow
import pyarrow.parquet
import pytest

from closebook.loading import LoadError, load_exports
from closebook.models import ClosePeriod
from tests.exports import account, build, rows, write_exports

PERIOD = "2026-10"


def snapshot(account_id: str, day: str, quantity: int) -> dict[str, object]:
    return {"account_id": account_id, "observed_at": day, "metric": "users", "quantity": quantity}


def exports_with_hwm(folder: Path, quantity: int) -> Path:
    """Account A (10.00 per user, no contract) with one October snapshot of `quantity`."""
    return write_exports(
        folder,
        accounts=[account("A")],
        usage_snapshots=[snapshot("A", "2026-10-05", quantity)],
    )


def cli(capsys, *args: str) -> tuple[int, list[str]]:
    from closebook.cli import main

    code = main(["close", "--period", PERIOD, *args, "--no-prefect"])
    return code, capsys.readouterr().err.splitlines()


# --- 1. glob characters in paths --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "decoys"),
    [
        ("ex[1]", ["ex1"]),  # a character class would read the sibling ex1
        ("ex*", ["exa", "exb"]),  # a star would read every matching sibling
        ("ex?", ["exa"]),
        ("**", ["deep/x"]),  # a recursive glob
        ("a]b[", ["a]bc"]),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_input_folder_is_read_literally_whatever_its_name(tmp_path, name, decoys, fmt):
    folder = exports_with_hwm(tmp_path / name, quantity=2)
    for decoy in decoys:
        exports_with_hwm(tmp_path / decoy, quantity=9)
    if fmt == "parquet":
        for decoy_or_real in [name, *decoys]:
            csv_file = tmp_path / decoy_or_real / "usage_snapshots.csv"
            with csv_file.open(newline="") as handle:
                table = pyarrow.Table.from_pylist(list(csv.DictReader(handle)))
            pyarrow.parquet.write_table(table, csv_file.with_suffix(".parquet"))
            csv_file.unlink()
    con = build(folder, PERIOD)
    counts = {r["file"]: r["rows_read"] for r in rows(con, "select * from load_counts")}
    assert counts[f"usage_snapshots.{fmt}"] == 1  # the file holds one row, not one per match
    # HWM 2 x 10.00 = 20.00 (a decoy's 9 would make it 90.00)
    assert [r["total"] for r in rows(con, "select * from invoices")] == [Decimal("20.00")]
    paths = [r["path"] for r in rows(con, "select * from input_files order by file")]
    assert all(Path(p).parent == folder for p in paths)


def test_a_tilde_folder_is_the_folder_not_the_home_folder(tmp_path, monkeypatch):
    home = tmp_path / "home"
    exports_with_hwm(home / "exports", quantity=9)
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    exports_with_hwm(work / "~" / "exports", quantity=2)
    monkeypatch.chdir(work)
    con = duckdb.connect()
    load_exports(con, Path("~/exports"))
    # the relative folder "~/exports" under work holds quantity 2, the home one 9
    assert con.execute("select quantity from build.raw_usage_snapshots").fetchall() == [("2",)]


def test_warehouse_and_reports_paths_with_glob_characters_are_used_literally(tmp_path, capsys):
    folder = exports_with_hwm(tmp_path / "in", quantity=2)
    decoy = tmp_path / "wh1" / "warehouse.duckdb"
    decoy.parent.mkdir()
    duckdb.connect(str(decoy)).close()
    warehouse = tmp_path / "wh[1]" / "warehouse.duckdb"
    reports = tmp_path / "r*"
    (tmp_path / "rx").mkdir()
    code, err = cli(
        capsys, "--input", str(folder), "--warehouse", str(warehouse), "--reports", str(reports)
    )
    assert (code, err) == (0, [])
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select total from invoices").fetchall() == [(Decimal("20.00"),)]
    con.close()
    con = duckdb.connect(str(decoy), read_only=True)
    assert con.execute("select count(*) from duckdb_tables()").fetchone() == (0,)
    con.close()
    assert (reports / PERIOD / "invoices.xlsx").is_file()
    assert list((tmp_path / "rx").iterdir()) == []


# --- 3. the period ------------------------------------------------------------------


@pytest.mark.parametrize(
    "period",
    [
        "\uff12\uff10\uff12\uff16-10",  # fullwidth 2026
        "\u0662\u0660\u0662\u0666-\u0661\u0660",  # Arabic-Indic 2026-10
        "2026-\uff11\uff10",
        "0000-01",
        "1899-12",  # before the first date a workbook can show
        "9999-11",  # due date 10000-01-02
        "9999-12",
        "2026-13",
        "2026-1",
        " 2026-10",
    ],
)
def test_a_period_that_is_not_an_ascii_month_in_range_is_a_usage_error(tmp_path, capsys, period):
    from closebook.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["close", "--period", period, "--input", str(tmp_path), "--no-prefect"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("closebook close: error: argument --period: period ")
    assert not any("Traceback" in line for line in err)


def test_the_edge_periods_have_their_contract_dates():
    last = ClosePeriod.parse("9999-10")
    # invoice date: 3rd of the next month = 9999-11-03; due 30 days later = 9999-12-03
    assert (last.invoice_date, last.due_date) == (date(9999, 11, 3), date(9999, 12, 3))
    first = ClosePeriod.parse("1900-01")
    assert (first.invoice_date, first.due_date) == (date(1900, 2, 3), date(1900, 3, 5))


# --- 4. blank is blank in Parquet ---------------------------------------------------


def test_empty_strings_in_parquet_are_blanks_with_the_contracts_defaults(tmp_path):
    folder = write_exports(
        tmp_path / "in",
        accounts=[account("A", contracted_quantity="", currency="", autopay_limit="")],
        usage_snapshots=[snapshot("A", "2026-10-05", 3)],
    )
    con = duckdb.connect()
    con.execute(
        "copy (select 'A' as account_id, 'Account A' as account_name, 'hwm' as billing_model, "
        "'users' as metric, '10.00' as unit_price, '' as contracted_quantity, '' as currency, "
        "'card' as payment_method, '' as autopay_limit, '' as billing_email) to ? "
        "(format parquet)",
        [str(folder / "accounts.parquet")],
    )
    con.close()
    (folder / "accounts.csv").unlink()
    con = build(folder, PERIOD)
    assert rows(con, "select * from rejected_rows") == []
    got = rows(con, "select contracted_quantity, currency, autopay_limit from int_accounts")
    # blank contracted_quantity = 0, currency = USD, autopay_limit = 4000.00 (contract §1)
    assert got == [{"contracted_quantity": 0, "currency": "USD", "autopay_limit": Decimal("4000")}]
    # 3 users x 10.00 = 30.00, below the 4000.00 limit: autopay
    assert rows(con, "select total, payment_action from invoices") == [
        {"total": Decimal("30.00"), "payment_action": "autopay"}
    ]


# --- 6. smaller holes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed_at", "accepted"),
    [
        ("2026-10-05T12:00:00+14:00", True),  # Kiribati, the easternmost offset
        ("2026-10-05T12:00:00-12:00", True),
        ("2026-10-05T12:00:00+13:45", True),  # Chatham Islands, daylight time
        ("2026-10-05T12:00:00+25:00", False),
        ("2026-10-05T12:00:00-14:30", False),
        ("2026-10-05T12:00:00+15", False),
        ("2026-10-05T12:00:00+05:60", False),
    ],
)
def test_an_offset_outside_plus_minus_14_hours_is_a_rejected_row(tmp_path, observed_at, accepted):
    folder = write_exports(
        tmp_path / "in",
        accounts=[account("A")],
        usage_snapshots=[snapshot("A", observed_at, 3)],
    )
    con = build(folder, PERIOD)
    reasons = [r["reason"] for r in rows(con, "select * from rejected_rows")]
    if accepted:
        assert reasons == []
    else:
        assert reasons == [f"observed_at '{observed_at}' is not an ISO 8601 timestamp"]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"\rA,2026-10-02,users,4\n", 2),  # after the header's LF: DuckDB took it silently
        (b"A,2026-10-01,users,3\nA,2026-10-02,us\rers,4\n", 3),
        (b'A,2026-10-01,"users",3\nA,2026-10-02,users,4\r', 3),
    ],
)
def test_a_bare_cr_outside_quotes_in_an_lf_file_stops_the_load(tmp_path, body, line):
    folder = write_exports(tmp_path / "in", accounts=[account("A")])
    (folder / "usage_snapshots.csv").write_bytes(b"account_id,observed_at,metric,quantity\n" + body)
    with pytest.raises(LoadError) as error:
        load_exports(duckdb.connect(), folder)
    assert str(error.value) == (
        f"usage_snapshots.csv line {line}: the file mixes line breaks (a bare CR among LF "
        "line ends); save it again with one kind of line ending"
    )


def test_a_cr_inside_quotes_is_text_not_a_line_break(tmp_path):
    folder = write_exports(tmp_path / "in", accounts=[account("A")])
    (folder / "usage_snapshots.csv").write_bytes(
        b'account_id,observed_at,metric,quantity\nA,2026-10-02,"us\rers",4\nA,2026-10-03,users,5\n'
    )
    con = build(folder, PERIOD)
    assert [(r["line_number"], r["reason"]) for r in rows(con, "select * from rejected_rows")] == [
        (2, "metric 'us\rers' is not one of users, devices")
    ]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_export_name_that_is_not_a_regular_file_is_one_line(tmp_path, kind):
    folder = write_exports(tmp_path / "in", accounts=[account("A")])
    (folder / "usage_snapshots.csv").unlink()
    target = folder / "usage_snapshots.csv"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)  # reading a FIFO would wait forever
    with pytest.raises(LoadError) as error:
        load_exports(duckdb.connect(), folder)
    assert str(error.value) == (
        f"usage_snapshots.csv in {folder} is not a regular file; replace it with the exported file"
    )


def test_a_warehouse_that_is_not_a_duckdb_file_is_one_line_and_untouched(tmp_path, capsys):
    folder = exports_with_hwm(tmp_path / "in", quantity=2)
    foreign = tmp_path / "notes.duckdb"
    foreign.write_bytes(b"my spreadsheet notes\n")
    code, err = cli(
        capsys, "--input", str(folder), "--warehouse", str(foreign), "--reports", str(tmp_path)
    )
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"closebook: error: warehouse {foreign} cannot be opened (")
    assert err[0].endswith("give --warehouse a DuckDB file closebook wrote, or a new file name")
    assert foreign.read_bytes() == b"my spreadsheet notes\n"


def test_a_row_over_the_readers_line_limit_is_rejected_alone_and_names_its_account(tmp_path):
    long_email = "x" * 3_000_000  # over DuckDB's 2 MB line limit
    folder = write_exports(
        tmp_path / "in",
        accounts=[account("A"), account("B", billing_email=long_email)],
        usage_snapshots=[
            snapshot("A", "2026-10-05", 3),
            snapshot("A", "2026-10-06", "9" * 3_000_000),
            snapshot("B", "2026-10-05", 4),
        ],
    )
    con = build(folder, PERIOD)
    too_long = "the row is longer than the reader allows (2 MB); shorten its longest field"
    got = rows(con, "select file, line_number, account_id, reason from rejected_rows order by all")
    assert got == [
        {"file": "accounts.csv", "line_number": 3, "account_id": "B", "reason": too_long},
        {"file": "usage_snapshots.csv", "line_number": 3, "account_id": "A", "reason": too_long},
        # B's own row was rejected: said so, not "unknown account 'B'"
        {
            "file": "usage_snapshots.csv",
            "line_number": 4,
            "account_id": "B",
            "reason": "account 'B' was rejected in accounts",
        },
    ]
    # A's unreadable snapshot is A's rejected row: A's invoice is held, not issued
    assert rows(con, "select invoice_number, status from invoices") == [
        {"invoice_number": "2026-10-A-BASE", "status": "held"}
    ]


def test_a_warehouse_whose_raw_rows_are_tables_loads_into_views(tmp_path: Path) -> None:
    """An earlier closebook kept `build.raw_<file>` as tables; the load replaces them."""
    folder = write_exports(tmp_path / "in", accounts=[account("A1")])
    con = duckdb.connect()
    con.execute("create schema build")
    con.execute("create table build.raw_accounts as select 'OLD' as account_id")
    con.execute("create table build.raw_usage_snapshots as select 'OLD' as account_id")
    load_exports(con, folder)
    kinds = dict(
        con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'build' and table_name in ('raw_accounts', 'raw_usage_snapshots')"
        ).fetchall()
    )
    assert kinds == {"raw_accounts": "VIEW", "raw_usage_snapshots": "VIEW"}
    assert con.execute("select account_id, line_number from build.raw_accounts").fetchall() == [
        ("A1", 2)
    ]


def test_when_two_files_fail_the_error_names_the_first_in_contract_order(tmp_path: Path) -> None:
    """Files load two at a time, largest first; the error shown must not depend on which
    finished first: accounts (small, first in the contract) is named, not the big
    usage_snapshots file that also lacks a column."""
    folder = write_exports(tmp_path / "in", accounts=[account("A1")])
    (folder / "accounts.csv").write_text("account_id,account_name\nA1,One\n")
    big = "".join(f"A1,2026-10-01T00:00:{i % 60:02d}Z,users\n" for i in range(20_000))
    (folder / "usage_snapshots.csv").write_text("account_id,observed_at,metric\n" + big)
    with pytest.raises(LoadError, match=r"^accounts\.csv: missing required column 'billing_model'"):
        load_exports(duckdb.connect(), folder)
