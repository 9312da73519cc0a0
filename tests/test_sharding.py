"""Sharding by account (issue 14) without a cluster: which rows go together, that no
row is lost or doubled between shards, and that shards run one after another in
this process give the one-process close exactly, on rows whose rules span accounts.
The same close on a real Dask cluster is `tests/test_sharded_close.py`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook import sharding
from closebook.loading import load_exports
from closebook.pipeline import close_period
from closebook.sharded_pipeline import close_period_sharded
from tests.exports import account, write_exports
from tests.sharded_exports import warehouse_differences, workbook_differences

PERIOD = "2026-10"
AS_OF = date(2026, 11, 20)


def ev(event_id: str, license_id: str, account_id: str, event: str, day: str) -> dict:
    return {
        "event_id": event_id,
        "license_id": license_id,
        "account_id": account_id,
        "product": "backup",
        "event": event,
        "occurred_at": f"2026-10-{day}T12:00:00Z",
    }


@pytest.fixture
def tied_exports(tmp_path: Path) -> Path:
    """Accounts tied together only through keys they share (lines counted from 2)."""
    return write_exports(
        tmp_path / "exports",
        accounts=[
            *(account(a, "license_day") for a in ("J1", "J2", "J3", "J4")),
            account("P1", "prepaid"),
            account("P2", "prepaid"),
            account("H1", contracted_quantity="10"),
        ],
        license_prices=[{"product": "backup", "currency": "USD", "unit_price": "4.95"}],
        license_events=[
            ev("E1", "L1", "J1", "issued", "01"),  # line 2
            ev("X1", "L1", "J2", "transferred", "10"),  # line 3: J1's license named by J2
            ev("E1", "L9", "J3", "issued", "05"),  # line 4: J1's event_id reused by J3
            ev("E5", "L5", "J4", "issued", "02"),  # line 5
            ev("E6", "L5", "", "issued", "01"),  # line 6: no account, an earlier issue of L5
            ev("E7", "L7", "J2", "issued", "03"),  # line 7: J2 and J3 have licenses of
            ev("E8", "L8", "J3", "issued", "03"),  # line 8: their own, so invoices to hold
            ev("E9", "L6", "J4", "issued", "03"),  # line 9: J4's other license, billed but held
        ],
        balance_transactions=[
            {"txn_id": "T1", "account_id": "P1", "occurred_at": "2026-10-01T00:00:00Z",
             "kind": "purchase", "amount": "100.00"},
            {"txn_id": "T1", "account_id": "P2", "occurred_at": "2026-10-01T00:00:00Z",
             "kind": "purchase", "amount": "50.00"},  # P1's txn_id reused by P2
        ],
        usage_snapshots=[
            {"account_id": "H1", "observed_at": "2026-10-05T00:00:00Z", "metric": "users",
             "quantity": "12"},
            {"account_id": "P2", "observed_at": "2026-10-05T00:00:00Z", "metric": "devices",
             "quantity": "5"},  # 5 x 10.00 = 50.00 charged, nothing credited: a shortfall
            {"account_id": "NOBODY", "observed_at": "2026-10-05T00:00:00Z",
             "metric": "users", "quantity": "1"},
        ],
    )  # fmt: skip


def test_accounts_sharing_a_key_are_routed_together(tied_exports: Path) -> None:
    con = duckdb.connect()
    load_exports(con, tied_exports)
    sharding.route_accounts(con, 8)
    labels = dict(con.execute("select account_id, label from shard_routes").fetchall())
    # J2 names J1's license, J3 reuses J1's event_id: one group, labelled by its
    # smallest account_id; P2 reuses P1's txn_id; the others stand alone.
    assert labels == {
        "J1": "J1", "J2": "J1", "J3": "J1", "J4": "J4",
        "P1": "P1", "P2": "P1", "H1": "H1", "NOBODY": "NOBODY",
    }  # fmt: skip
    shards = dict(con.execute("select account_id, shard from shard_routes").fetchall())
    assert shards["J1"] == shards["J2"] == shards["J3"]
    assert shards["P1"] == shards["P2"]
    # the issue with no account (line 6) goes with its license, to J4's shard
    license_shard = con.execute(
        "select shard from shard_license_routes where license_id = 'L5'"
    ).fetchone()
    assert license_shard == (shards["J4"],)


def test_a_chain_of_shared_keys_is_one_group(tmp_path: Path) -> None:
    # K1-K2 share license L1, K2-K3 share event_id E9: K3 reaches K1 only through K2
    folder = write_exports(
        tmp_path / "exports",
        accounts=[account(a, "license_day") for a in ("K3", "K2", "K1")],
        license_events=[
            ev("E1", "L1", "K1", "issued", "01"),
            ev("E2", "L1", "K2", "assigned", "02"),
            ev("E9", "L2", "K2", "issued", "03"),
            ev("E9", "L3", "K3", "issued", "04"),
        ],
    )
    con = duckdb.connect()
    load_exports(con, folder)
    sharding.route_accounts(con, 4)
    labels = dict(con.execute("select account_id, label from shard_routes").fetchall())
    assert labels == {"K1": "K1", "K2": "K1", "K3": "K1"}


def test_every_row_goes_to_exactly_one_shard(tied_exports: Path, tmp_path: Path) -> None:
    con = duckdb.connect()
    load_exports(con, tied_exports)
    work = tmp_path / "work"
    specs = sharding.partition_exports(con, work, 3, PERIOD, AS_OF)
    assert [s.shard for s in specs] == [0, 1, 2]
    for table in sharding.ROUTED_TABLES:
        files = sorted((work / "raw" / table).glob("shard=*/*.parquet"))
        lines = (
            con.execute(
                "select line_number from read_parquet(?, hive_partitioning = false) order by 1",
                [[str(f) for f in files]],
            ).fetchall()
            if files
            else []
        )
        raw = con.execute(f"select line_number from build.raw_{table} order by 1").fetchall()
        assert lines == raw, table  # no line lost, none twice


def test_sharded_close_in_process_equals_one_process(tied_exports: Path, tmp_path: Path) -> None:
    close_period(PERIOD, tied_exports, tmp_path / "one.duckdb", tmp_path / "one", AS_OF)
    result = close_period_sharded(
        PERIOD, tied_exports, tmp_path / "sharded.duckdb", tmp_path / "sharded", AS_OF, shards=3
    )
    assert warehouse_differences(tmp_path / "one.duckdb", tmp_path / "sharded.duckdb") == []
    assert workbook_differences(tmp_path / "one" / PERIOD, tmp_path / "sharded" / PERIOD) == []
    assert result.exit_code == 3
    assert not (tmp_path / "sharded.duckdb.shards").exists()
    con = duckdb.connect(str(tmp_path / "sharded.duckdb"), read_only=True)
    held = dict(
        con.execute("select account_id, hold_reason from invoices where status = 'held'").fetchall()
    )
    # J2 (names J1's license), J3 (reuses J1's event_id), J4 (its issue comes after a
    # rejected one) and P2 (reuses P1's txn_id) are held, each in the shard of the
    # account it is tied to; J1, P1 and H1 are issued.
    assert set(held) == {"J2", "J3", "J4", "P2"}
    assert "line 3" in held["J2"] and "line 4" in held["J3"]


@pytest.mark.parametrize(
    "options",
    [
        ["--shards", "4"],  # no cluster, and not --no-prefect
        ["--dask-local", "2"],  # a cluster but no shards
        ["--shards", "4", "--dask-local", "2", "--no-prefect"],  # Dask runs through Prefect
        ["--shards", "4", "--dask-local", "2", "--dask-scheduler", "tcp://h:8786"],
        ["--shards", "0", "--dask-local", "2"],
    ],
)
def test_sharding_options_that_do_not_go_together_are_a_usage_error(options, capsys) -> None:
    from closebook.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["close", "--period", PERIOD, "--input", "data/sample", *options])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
