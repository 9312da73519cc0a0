"""The sharded close on a real Dask cluster, through Prefect: the same warehouse and
workbooks as one process, and a failing shard fails the whole close cleanly.

A `LocalCluster` of 2 worker processes and 4 shards: each shard's task runs in a
worker process with its own DuckDB, as on a real cluster. These tests start a
temporary Prefect server and Dask worker processes, so they are marked `flow` and
`dask` (`make test` runs them; `make test-fast` does not).
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.pipeline import CloseFailed, close_period
from scripts.sample_data import generate_exports
from tests.sharded_exports import (
    add_cross_account_rows,
    warehouse_differences,
    workbook_differences,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
PERIOD = "2026-10"
AS_OF = "2026-11-20"
SHARDS = 4

pytestmark = [pytest.mark.flow, pytest.mark.dask]


@pytest.fixture(scope="module")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    with prefect_test_harness(server_startup_timeout=timeout):
        yield


@pytest.fixture(scope="module")
def cluster():
    """An existing cluster, as `--dask-scheduler tcp://host:8786` would name one."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """2,000 generated accounts with the generator's own problems, plus rows that tie
    accounts together across shards (shared keys, events naming another account,
    unknown accounts, an unreadable row)."""
    folder = tmp_path_factory.mktemp("generated") / "exports"
    generate_exports(folder, 2000, ["2026-08", "2026-09", PERIOD], seed=11)
    return folder, add_cross_account_rows(folder, PERIOD)


def _single(work: Path, exports: Path) -> tuple[Path, Path]:
    warehouse, reports = work / "single.duckdb", work / "single-reports"
    close_period(PERIOD, exports, warehouse, reports, date.fromisoformat(AS_OF))
    return warehouse, reports


def _sharded(work: Path, exports: Path, **cluster: object):
    from closebook.flows.sharded_close import run_sharded_close

    warehouse, reports = work / "sharded.duckdb", work / "sharded-reports"
    result = run_sharded_close(
        period=PERIOD,
        input_dir=str(exports),
        warehouse=str(warehouse),
        reports_dir=str(reports),
        as_of=AS_OF,
        shards=SHARDS,
        **cluster,
    )
    return result, warehouse, reports


def test_sample_sharded_on_a_local_cluster_equals_one_process(prefect_server, tmp_path):
    single_warehouse, single_reports = _single(tmp_path, SAMPLE)
    result, warehouse, reports = _sharded(tmp_path, SAMPLE, dask_local_workers=2)

    assert result.exit_code == 3  # the sample's deliberate problems, as in one process
    assert warehouse_differences(single_warehouse, warehouse) == []
    assert workbook_differences(single_reports / PERIOD, reports / PERIOD) == []
    assert not (tmp_path / "sharded.duckdb.shards").exists()


def test_generated_export_sharded_equals_one_process(prefect_server, cluster, generated, tmp_path):
    exports, tied_cases = generated
    single_warehouse, single_reports = _single(tmp_path, exports)
    _, warehouse, reports = _sharded(tmp_path, exports, dask_address=cluster.scheduler_address)

    assert warehouse_differences(single_warehouse, warehouse) == []
    assert workbook_differences(single_reports / PERIOD, reports / PERIOD) == []
    con = duckdb.connect(str(warehouse), read_only=True)
    # the cross-account cases really happened: each account they tie has a rejected row
    # and no invoice issued (held, or nothing to invoice)
    for case, account in tied_cases.items():
        rejected, issued = con.execute(
            "select (select count(*) from rejected_rows where period = $1 and account_id = $2),"
            " (select count(*) from invoices where period = $1 and account_id = $2"
            " and status = 'issued')",
            [PERIOD, account],
        ).fetchone()
        assert rejected >= 1 and issued == 0, case
    lost = con.execute(
        "select count(*) from load_counts "
        "where period = ? and rows_read <> accepted + duplicates + rejected",
        [PERIOD],
    ).fetchone()
    assert lost == (0,)


def test_a_failing_shard_fails_the_close_and_keeps_the_warehouse(
    prefect_server, cluster, tmp_path, monkeypatch
):
    from closebook import sharding

    single_warehouse, _ = _single(tmp_path, SAMPLE)
    shutil.copy(single_warehouse, tmp_path / "sharded.duckdb")
    real_partition = sharding.partition_exports

    def partition_with_a_bad_file(*args, **kwargs):
        specs = real_partition(*args, **kwargs)
        # one partition's file is not Parquet: that shard, and only it, cannot load
        folder = Path(specs[0].work_dir) / "raw" / "usage_snapshots"
        bad = sorted(folder.glob("shard=*/*.parquet"))[0]
        bad.write_bytes(b"not parquet")
        return specs

    monkeypatch.setattr(sharding, "partition_exports", partition_with_a_bad_file)
    with pytest.raises(CloseFailed) as failure:
        _sharded(tmp_path, SAMPLE, dask_address=cluster.scheduler_address)

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("shard ") and f"of {SHARDS} failed" in message
    # nothing published: the warehouse is the earlier close's, row for row
    assert warehouse_differences(single_warehouse, tmp_path / "sharded.duckdb") == []
    assert not (tmp_path / "sharded.duckdb.shards").exists()
    assert not (tmp_path / "sharded-reports").exists()
