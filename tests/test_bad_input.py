"""Bad input (contract §4): every row read is accepted, a counted exact duplicate, or
rejected with its file, line number and a reason finance can act on; whole-file
problems stop the close with one line naming the file (and column or line).

Line numbers are what a spreadsheet shows: header = line 1, a quoted newline does
not start a new line, a blank line keeps its number.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from closebook.loading import LoadError, load_exports
from tests.exports import account, build, rows, write_exports

SNAPSHOT_HEADER = b"account_id,observed_at,metric,quantity\n"


def snap(account_id: str, observed_at: str, quantity: object, metric: str = "users") -> dict:
    return {
        "account_id": account_id,
        "observed_at": observed_at,
        "metric": metric,
        "quantity": quantity,
    }


def ledger(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int, int]]:
    """load_counts per file, after checking rows_read = accepted + duplicates + rejected and
    that every rejected row is in rejected_rows with a line number and a reason."""
    counts = {
        r["file"]: (r["rows_read"], r["accepted"], r["duplicates"], r["rejected"])
        for r in rows(con, "select * from load_counts")
    }
    for file, (read, accepted, duplicates, rejected) in counts.items():
        assert read == accepted + duplicates + rejected, file
        listed = rows(con, "select * from rejected_rows where file = ?", [file])
        assert len(listed) == rejected, file
        assert all(r["line_number"] >= 2 and r["reason"] for r in listed), listed
    return counts


def rejected(con: duckdb.DuckDBPyConnection, file: str = "usage_snapshots.csv") -> dict[int, str]:
    ledger(con)
    return {
        r["line_number"]: r["reason"]
        for r in rows(con, "select * from rejected_rows where file = ? order by 1", [file])
    }


def accepted_quantities(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    return [
        (r["line_number"], r["quantity"])
        for r in rows(con, "select * from int_usage_snapshots order by line_number")
    ]


def snapshots_folder(tmp_path: Path, body: bytes, header: bytes = SNAPSHOT_HEADER) -> Path:
    """An export folder with account A (hwm, users) and `usage_snapshots.csv` as raw bytes."""
    folder = write_exports(tmp_path / "exports", accounts=[account("A")])
    (folder / "usage_snapshots.csv").write_bytes(header + body)
    return folder


@pytest.mark.parametrize(
    ("observed_at", "quantity", "reason"),
    [
        ("2026-10-05T00:00:00Z", "three", "quantity 'three' is not a whole number >= 0"),
        ("2026-10-05T00:00:00Z", "-2", "quantity '-2' is not a whole number >= 0"),
        ("2026-10-05T00:00:00Z", "2.5", "quantity '2.5' is not a whole number >= 0"),
        ("2026-10-05T00:00:00Z", "1e3", "quantity '1e3' is not a whole number >= 0"),
        ("2026-10-05T00:00:00Z", "", "quantity is blank"),
        ("last tuesday", "3", "observed_at 'last tuesday' is not an ISO 8601 timestamp"),
        ("10/05/2026", "3", "observed_at '10/05/2026' is not an ISO 8601 timestamp"),
        ("2026-13-01T00:00:00Z", "3", "observed_at '2026-13-01T00:00:00Z' is not an ISO 8601"),
        ("2026-02-30", "3", "observed_at '2026-02-30' is not an ISO 8601 timestamp"),
    ],
)
def test_unparseable_numbers_and_timestamps_are_rejected_with_line_and_reason(
    tmp_path, observed_at, quantity, reason
):
    folder = write_exports(
        tmp_path,
        accounts=[account("A")],
        usage_snapshots=[
            snap("A", "2026-10-02T00:00:00Z", 4),
            snap("A", observed_at, quantity),
            snap("A", "2026-10-03T00:00:00Z", 5),
        ],
    )
    con = build(folder, "2026-10")
    found = rejected(con)
    assert list(found) == [3]
    assert found[3].startswith(reason)
    assert accepted_quantities(con) == [(2, 4), (4, 5)]
    assert ledger(con)["usage_snapshots.csv"] == (3, 2, 0, 1)


def test_a_quantity_like_3_point_0_is_the_whole_number_3(tmp_path):
    # Parquet doubles and some spreadsheets write 3 as 3.0: the same whole number.
    folder = write_exports(
        tmp_path, accounts=[account("A")], usage_snapshots=[snap("A", "2026-10-02", "3.0")]
    )
    assert accepted_quantities(build(folder, "2026-10")) == [(2, 3)]


def test_utf8_with_byte_order_mark_loads_correctly(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A", contracted_quantity="1")])
    accounts = folder / "accounts.csv"
    accounts.write_bytes(b"\xef\xbb\xbf" + accounts.read_bytes())
    snapshots = folder / "usage_snapshots.csv"
    snapshots.write_bytes(b"\xef\xbb\xbf" + SNAPSHOT_HEADER + b"A,2026-10-02,users,3\n")
    con = build(folder, "2026-10")
    assert rows(con, "select account_id from int_accounts") == [{"account_id": "A"}]
    assert accepted_quantities(con) == [(2, 3)]
    assert ledger(con)["accounts.csv"] == (1, 1, 0, 0)


def test_latin1_bytes_in_a_row_reject_that_row_only(tmp_path):
    folder = snapshots_folder(
        tmp_path,
        b"A,2026-10-02,users,3\n"
        b"A,2026-10-03,users\xe9,4\n"  # 'users' + Latin-1 e-acute: not UTF-8
        b"A,2026-10-04,users,5\n",
    )
    con = build(folder, "2026-10")
    assert accepted_quantities(con) == [(2, 3), (4, 5)]
    ((row),) = rows(con, "select * from rejected_rows")
    assert row["line_number"] == 3
    assert "not UTF-8" in row["reason"] and "save the export as UTF-8" in row["reason"]
    assert row["raw"] == "A,2026-10-03,users\ufffd,4"  # the bad byte shown, the rest kept


def test_latin1_accounts_row_is_rejected_and_its_account_held_out(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A", contracted_quantity="1"), account("B")])
    path = folder / "accounts.csv"
    path.write_bytes(path.read_bytes().replace(b"Account B", b"Caf\xe9 B"))
    con = build(folder, "2026-10")
    assert rejected(con, "accounts.csv").keys() == {3}
    assert [r["account_id"] for r in rows(con, "select * from int_accounts")] == ["A"]


def test_latin1_header_stops_the_close_naming_file_and_line(tmp_path):
    folder = snapshots_folder(tmp_path, b"", header=b"account_id,observ\xe9d_at,metric,quantity\n")
    with pytest.raises(LoadError, match=r"^usage_snapshots.csv line 1: .*not valid UTF-8"):
        load_exports(duckdb.connect(), folder)


def test_quoted_commas_and_newlines_load_and_keep_spreadsheet_line_numbers(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[
            account("A", account_name="Acme, Inc.", contracted_quantity="1"),
            account("B", account_name='Line one\nLine "two"', contracted_quantity="1"),
            account("C", account_name="Carol\r\nand Co", contracted_quantity="1"),
            account("D", billing_model="flat"),  # line 5 although the file's 7th physical line
        ],
    )
    con = build(folder, "2026-10")
    names = {r["account_id"]: r["account_name"] for r in rows(con, "select * from int_accounts")}
    assert names == {"A": "Acme, Inc.", "B": 'Line one\nLine "two"', "C": "Carol\r\nand Co"}
    assert list(rejected(con, "accounts.csv")) == [5]
    raw = rows(
        con,
        "select t.raw_text from raw_accounts join raw_accounts_text t using (line_number) "
        "where account_id = 'B'",
    )[0]["raw_text"]
    assert raw.startswith('B,"Line one\nLine ""two""",hwm,')  # RFC 4180, as it was written


def test_duckdb_rejects_line_counts_records_like_a_spreadsheet(tmp_path):
    # Row 3 spans two physical lines; row 4 has one field too many. DuckDB's reader
    # reports it on line 4 (records, header = 1), which is what the loader keeps.
    folder = snapshots_folder(
        tmp_path,
        b'A,2026-10-02,users,3\n"A\nB",2026-10-03,users,4\nA,2026-10-04,users,5,extra\n'
        b"A,2026-10-05,users,6\n",
    )
    con = build(folder, "2026-10")
    assert rejected(con) == {
        3: "unknown account 'A\nB'",
        4: "the row has more fields than the header",
    }
    assert accepted_quantities(con) == [(2, 3), (5, 6)]


def test_blank_lines_keep_their_numbers_and_are_not_rows(tmp_path):
    folder = snapshots_folder(
        tmp_path,
        b"A,2026-10-02,users,3\n\n\nA,2026-10-05,users,x\nA,2026-10-06,users,6\n\n",
    )
    con = build(folder, "2026-10")
    assert rejected(con) == {5: "quantity 'x' is not a whole number >= 0"}
    assert accepted_quantities(con) == [(2, 3), (6, 6)]
    assert ledger(con)["usage_snapshots.csv"] == (3, 2, 0, 1)


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 16])
def test_blank_lines_are_found_across_the_loaders_read_chunks(tmp_path, monkeypatch, chunk_bytes):
    """The loader reads a file's bytes once in chunks (16 MiB); a blank line split by a
    chunk's end must still keep its number. Small chunks put the split everywhere."""
    monkeypatch.setattr("closebook.loading._CHUNK_BYTES", chunk_bytes)
    folder = snapshots_folder(
        tmp_path,
        b"A,2026-10-02,users,3\n\nA,2026-10-05,users,x\n\n\nA,2026-10-06,users,6\n",
    )
    con = build(folder, "2026-10")
    # header 1, row 2, blank 3, row 4 (bad), blanks 5 and 6, row 7
    assert rejected(con) == {4: "quantity 'x' is not a whole number >= 0"}
    assert accepted_quantities(con) == [(2, 3), (7, 6)]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 16])
def test_a_bare_cr_is_found_across_the_loaders_read_chunks(tmp_path, monkeypatch, chunk_bytes):
    monkeypatch.setattr("closebook.loading._CHUNK_BYTES", chunk_bytes)
    folder = snapshots_folder(tmp_path, b"A,2026-10-01,users,3\r\nA,2026-10-02,us\rers,4\n")
    with pytest.raises(LoadError) as error:
        load_exports(duckdb.connect(), folder)
    assert str(error.value).startswith("usage_snapshots.csv line 3: the file mixes line breaks")


def test_crlf_line_endings_and_a_short_row(tmp_path):
    folder = snapshots_folder(
        tmp_path,
        b"A,2026-10-02,users,3\r\nA,2026-10-03\r\nA,2026-10-04,users,5\r\n",
        header=SNAPSHOT_HEADER.replace(b"\n", b"\r\n"),
    )
    con = build(folder, "2026-10")
    assert rejected(con) == {3: "the row has fewer fields than the header"}
    assert rows(con, "select raw from rejected_rows")[0]["raw"] == "A,2026-10-03"
    assert accepted_quantities(con) == [(2, 3), (4, 5)]


def test_empty_file_stops_the_close_with_one_line_naming_it(tmp_path):
    folder = snapshots_folder(tmp_path, b"", header=b"")
    with pytest.raises(LoadError) as error:
        load_exports(duckdb.connect(), folder)
    assert str(error.value) == "usage_snapshots.csv: the file is empty (no header row)"


def test_header_only_file_loads_zero_rows(tmp_path):
    folder = snapshots_folder(tmp_path, b"", header=SNAPSHOT_HEADER.rstrip(b"\n"))
    con = build(folder, "2026-10")
    assert ledger(con)["usage_snapshots.csv"] == (0, 0, 0, 0)


def test_extra_and_reordered_columns_are_fine(tmp_path):
    folder = snapshots_folder(
        tmp_path,
        b"3,note one,users,2026-10-02,A\n",
        header=b"Quantity, Note ,metric,observed_at,account_id\n",
    )
    con = build(folder, "2026-10")
    assert accepted_quantities(con) == [(2, 3)]
    assert rows(con, "select raw_text from raw_usage_snapshots_text") == [
        {"raw_text": "3,note one,users,2026-10-02,A"}
    ]


def test_missing_column_stops_the_close_naming_file_and_column(tmp_path):
    folder = snapshots_folder(
        tmp_path, b"A,2026-10-02,users\n", header=b"account_id,observed_at,metric\n"
    )
    with pytest.raises(LoadError) as error:
        load_exports(duckdb.connect(), folder)
    assert str(error.value) == "usage_snapshots.csv: missing required column 'quantity'"


def test_a_table_given_as_csv_and_parquet_is_an_error(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A")])
    con = duckdb.connect()
    con.execute(
        f"copy (select * from read_csv('{folder / 'usage_snapshots.csv'}', all_varchar = true)) "
        f"to '{folder / 'usage_snapshots.parquet'}' (format parquet)"
    )
    with pytest.raises(LoadError, match="usage_snapshots is given both as"):
        load_exports(con, folder)


def write_parquet(folder: Path, table: str, select_sql: str) -> None:
    (folder / f"{table}.csv").unlink(missing_ok=True)
    duckdb.connect().execute(
        f"copy ({select_sql}) to '{folder / (table + '.parquet')}' (format parquet)"
    )


def test_parquet_with_wrong_types_rejects_rows_with_reasons(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A")])
    write_parquet(
        folder,
        "usage_snapshots",
        """
        select * from (values
            ('A', timestamp '2026-10-02 00:00:00', 'users', 3.0::double),
            ('A', timestamp '2026-10-03 00:00:00', 'users', 2.5::double),
            ('A', timestamp '2026-10-04 00:00:00', 'users', -4.0::double),
            ('A', timestamp '2026-10-05 00:00:00', 'users', null)
        ) as t(account_id, observed_at, metric, quantity)
        """,
    )
    con = build(folder, "2026-10")
    # Parquet row 1 is line 1 (there is no header line).
    found = rejected(con, "usage_snapshots.parquet")
    assert found == {
        2: "quantity '2.5' is not a whole number >= 0",
        3: "quantity '-4.0' is not a whole number >= 0",
        4: "quantity is blank",
    }
    assert accepted_quantities(con) == [(1, 3)]


def test_parquet_quantity_as_text(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A")])
    write_parquet(
        folder,
        "usage_snapshots",
        "select * from (values ('A', '2026-10-02T00:00:00Z', 'users', '7'), "
        "('A', '2026-10-03T00:00:00Z', 'users', 'seven')) "
        "as t(account_id, observed_at, metric, quantity)",
    )
    con = build(folder, "2026-10")
    assert rejected(con, "usage_snapshots.parquet") == {
        2: "quantity 'seven' is not a whole number >= 0"
    }
    assert accepted_quantities(con) == [(1, 7)]


@pytest.mark.parametrize("session_zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_parquet_timestamp_and_timestamptz_load_as_the_same_utc_instant(tmp_path, session_zone):
    # 2026-10-31 23:30 UTC is October, whatever zone the reading session is in;
    # the naive TIMESTAMP column is UTC by contract.
    folder = write_exports(tmp_path, accounts=[account("A")])
    write_parquet(
        folder,
        "usage_snapshots",
        "select * from (values "
        "('A', timestamptz '2026-10-31 23:30:00+00', 'users', 9), "
        "('A', timestamptz '2026-11-01 00:30:00+02', 'users', 11)) "  # = Oct 31 22:30 UTC
        "as t(account_id, observed_at, metric, quantity)",
    )
    con = duckdb.connect()
    con.execute(f"set TimeZone = '{session_zone}'")
    load_exports(con, folder)
    from datetime import date

    from closebook.models import ClosePeriod, build_models

    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 12, 31))
    got = rows(con, "select observed_at, quantity from int_usage_snapshots order by 1")
    assert [(str(r["observed_at"]), r["quantity"]) for r in got] == [
        ("2026-10-31 22:30:00", 11),
        ("2026-10-31 23:30:00", 9),
    ]
    (usage,) = rows(con, "select * from hwm_usage")
    assert usage["hwm"] == 11


def test_parquet_naive_timestamp_is_utc(tmp_path):
    folder = write_exports(tmp_path, accounts=[account("A")])
    write_parquet(
        folder,
        "usage_snapshots",
        "select 'A' as account_id, timestamp '2026-10-31 23:59:59.5' as observed_at, "
        "'users' as metric, 4::bigint as quantity",
    )
    (usage,) = rows(build(folder, "2026-10"), "select * from hwm_usage")
    assert usage["hwm"] == 4


@pytest.mark.parametrize(
    ("rows_in", "reason"),
    [
        (
            {"accounts": [account("A"), account("B", billing_model="flat")]},
            "billing_model 'flat' is not one of hwm, license_day, prepaid",
        ),
        (
            {"accounts": [account("A"), account("B", metric="seats")]},
            "metric 'seats' is not one of users, devices",
        ),
        (
            {"accounts": [account("A"), account("B", currency="XBT")]},
            "currency 'XBT' is not one of USD, EUR, GBP, CAD, AUD, JPY",
        ),
        (
            {"accounts": [account("A"), account("B", payment_method="cheque")]},
            "payment_method 'cheque' is not one of card, invoice, none",
        ),
    ],
)
def test_unknown_enums_in_accounts_are_rejected(tmp_path, rows_in, reason):
    con = build(write_exports(tmp_path, **rows_in), "2026-10")
    assert rejected(con, "accounts.csv") == {3: reason}


def test_unknown_metric_in_a_snapshot_is_rejected(tmp_path):
    folder = write_exports(
        tmp_path, accounts=[account("A")], usage_snapshots=[snap("A", "2026-10-02", 1, "seats")]
    )
    assert rejected(build(folder, "2026-10")) == {2: "metric 'seats' is not one of users, devices"}


def test_rows_of_unknown_and_of_rejected_accounts_are_rejected(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[account("A"), account("BAD", unit_price="ten")],
        usage_snapshots=[snap("GHOST", "2026-10-02", 1), snap("BAD", "2026-10-02", 1)],
    )
    con = build(folder, "2026-10")
    assert rejected(con) == {
        2: "unknown account 'GHOST'",
        3: "account 'BAD' was rejected in accounts",
    }
    assert rejected(con, "accounts.csv") == {3: "unit_price 'ten' is not a decimal number"}


def test_exact_and_conflicting_duplicate_accounts(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[
            account("A", contracted_quantity="2"),
            account("A", contracted_quantity="2"),  # exact: counted once
            account("A", contracted_quantity="3"),  # conflicting: rejected, first stands
        ],
    )
    con = build(folder, "2026-10")
    assert ledger(con)["accounts.csv"] == (3, 1, 1, 1)
    assert "conflicting duplicate of account 'A'" in rejected(con, "accounts.csv")[4]
    (invoice,) = rows(con, "select * from invoices")
    assert (invoice["total"], invoice["status"]) == (Decimal("20.00"), "held")  # 2 x 10.00


def test_snapshots_out_of_order_in_the_file_are_ordered_by_time(tmp_path):
    # Written newest first: the quantity carried into October is the latest by time
    # (Sep 30: 12), not the last in the file (Sep 1: 2).
    folder = write_exports(
        tmp_path,
        accounts=[account("ORD")],
        usage_snapshots=[
            snap("ORD", "2026-10-09T00:00:00Z", 5),
            snap("ORD", "2026-09-30T00:00:00Z", 12),
            snap("ORD", "2026-09-01T00:00:00Z", 2),
        ],
    )
    (usage,) = rows(build(folder, "2026-10"), "select * from hwm_usage")
    assert (usage["carried_in_quantity"], usage["hwm"]) == (12, 12)


def test_license_events_out_of_order_in_the_file_are_ordered_by_time(tmp_path):
    # The revoke is written before the issue; by time the license is active Oct 5..19.
    folder = write_exports(
        tmp_path,
        accounts=[account("J1", billing_model="license_day")],
        license_prices=[{"product": "backup", "currency": "USD", "unit_price": "4.95"}],
        license_events=[
            {
                "event_id": "e2",
                "license_id": "L1",
                "account_id": "J1",
                "product": "backup",
                "event": "revoked",
                "occurred_at": "2026-10-20T00:00:00Z",
            },
            {
                "event_id": "e1",
                "license_id": "L1",
                "account_id": "J1",
                "product": "backup",
                "event": "issued",
                "occurred_at": "2026-10-05T08:00:00Z",
            },
        ],
    )
    con = build(folder, "2026-10")
    assert rejected(con, "license_events.csv") == {}
    assert [(r["license_id"], r["days"]) for r in rows(con, "select * from license_days")] == [
        ("L1", 15)  # Oct 5..19; the revoke at Oct 20 00:00 takes no part of the 20th
    ]


def test_unknown_enum_in_license_events_and_balance_transactions(tmp_path):
    folder = write_exports(
        tmp_path,
        accounts=[
            account("J1", billing_model="license_day"),
            account("P1", billing_model="prepaid"),
        ],
        license_events=[
            {
                "event_id": "e1",
                "license_id": "L1",
                "account_id": "J1",
                "product": "backup",
                "event": "stolen",
                "occurred_at": "2026-10-05T08:00:00Z",
            },
        ],
        balance_transactions=[
            {
                "txn_id": "t1",
                "account_id": "P1",
                "occurred_at": "2026-10-02",
                "kind": "gift",
                "amount": "10.00",
            },
        ],
    )
    con = build(folder, "2026-10")
    assert rejected(con, "license_events.csv")[2].startswith("event 'stolen' is not one of")
    assert rejected(con, "balance_transactions.csv")[2].startswith("kind 'gift' is not one of")


# The CLI: a close that cannot finish says why in one line naming the file, column or
# line (exit 1), and leaves the warehouse as it was.


def run_cli(capsys, folder: Path, tmp_path: Path) -> tuple[int, list[str]]:
    from closebook.cli import main

    code = main(
        [
            "close",
            "--period",
            "2026-10",
            "--input",
            str(folder),
            "--warehouse",
            str(tmp_path / "wh.duckdb"),
            "--reports",
            str(tmp_path / "reports"),
            "--no-prefect",
        ]
    )
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        (
            b"account_id,observed_at,metric\n",
            b"A,2026-10-02,users\n",
            "closebook: error: usage_snapshots.csv: missing required column 'quantity'",
        ),
        (
            b"",
            b"",
            "closebook: error: usage_snapshots.csv: the file is empty (no header row)",
        ),
        (
            b"account_id,observ\xe9d_at,metric,quantity\n",
            b"",
            "closebook: error: usage_snapshots.csv line 1: the header row is not valid UTF-8 text",
        ),
    ],
)
def test_cli_whole_file_errors_are_one_line(tmp_path, capsys, header, body, message):
    folder = snapshots_folder(tmp_path, body, header=header)
    code, err = run_cli(capsys, folder, tmp_path)
    assert (code, err) == (1, [message])


def test_cli_exits_3_when_a_row_is_rejected(tmp_path, capsys):
    folder = snapshots_folder(tmp_path, b"A,2026-10-02,users,3\nA,2026-10-03,users,x\n")
    code, err = run_cli(capsys, folder, tmp_path)
    assert (code, err) == (3, [])
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    assert rows(con, "select line_number, reason from main.rejected_rows") == [
        {"line_number": 3, "reason": "quantity 'x' is not a whole number >= 0"}
    ]
