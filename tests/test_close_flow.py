"""End to end through the real Prefect flow, on the bundled sample data.

These tests start a temporary Prefect server once for the module (prefect's
own test harness), so they are marked `flow`; `make test-fast` skips them.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    with prefect_test_harness(server_startup_timeout=timeout):
        yield


@pytest.fixture(scope="module")
def closed_sample(prefect_server, tmp_path_factory):
    from closebook.flows.close_flow import close_flow

    work = tmp_path_factory.mktemp("close")
    warehouse, reports = work / "warehouse.duckdb", work / "reports"
    result = close_flow(
        period="2026-10",
        input_dir=str(SAMPLE),
        warehouse=str(warehouse),
        reports_dir=str(reports),
        as_of="2026-11-20",
    )
    return result, warehouse, reports


def test_flow_closes_the_sample_month_into_warehouse_and_workbooks(closed_sample):
    result, warehouse, reports = closed_sample
    # The sample carries deliberate problems: rejected rows, so the close ends with 3.
    assert result.exit_code == 3
    assert result.rejected_rows > 0
    names = sorted(p.name for p in (reports / "2026-10").glob("*.xlsx"))
    assert names == ["invoices.xlsx", "overage.xlsx", "prepaid.xlsx", "reconciliation.xlsx"]
    con = duckdb.connect(str(warehouse), read_only=True)
    per_currency = {
        (currency, status): (count, total)
        for currency, status, count, total in con.execute(
            "select currency, status, count(*), sum(total) from invoices "
            "where period = '2026-10' group by all"
        ).fetchall()
    }
    summary = {c.currency: c for c in result.currencies}
    for (currency, status), (count, total) in per_currency.items():
        entry = summary[currency]
        if status == "issued":
            assert (entry.issued_count, entry.issued_total) == (count, Decimal(total))
        else:
            assert (entry.held_count, entry.held_total) == (count, Decimal(total))
    # rows read = accepted + duplicates + rejected, per file (contract §4)
    for file, read, accepted, duplicates, rejected in con.execute(
        "select file, rows_read, accepted, duplicates, rejected from load_counts "
        "where period = '2026-10'"
    ).fetchall():
        assert read == accepted + duplicates + rejected, file
    runs = con.execute("select period, exit_code from close_runs").fetchall()
    assert runs == [("2026-10", 3)]
    con.close()


def test_flow_run_is_named_for_its_period_and_publishes_artifacts(closed_sample):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        assert "close-2026-10" in {r.name for r in runs}
        run = next(r for r in runs if r.name == "close-2026-10")
        assert run.state is not None and run.state.is_completed()
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["close-summary-2026-10", "close-totals-2026-10"])
            )
        )
    assert {a.key for a in artifacts} == {"close-summary-2026-10", "close-totals-2026-10"}
    summary = next(a for a in artifacts if a.key == "close-summary-2026-10")
    assert "invoices.xlsx" in str(summary.data)


def test_cli_through_the_flow_fails_in_one_line_on_a_missing_file(prefect_server, tmp_path, capsys):
    from closebook.cli import main

    exports = tmp_path / "exports"
    exports.mkdir()
    for file in SAMPLE.glob("*.csv"):
        if file.name != "accounts.csv":
            (exports / file.name).write_bytes(file.read_bytes())
    code = main(
        [
            "close",
            "--period",
            "2026-10",
            "--input",
            str(exports),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert (
        err[-1] == f"closebook: error: missing input file: accounts.csv (or .parquet) in {exports}"
    )


def test_the_readme_command_fails_with_exactly_one_line(tmp_path):
    """What finance sees: the real `closebook` process, its own Prefect server, stderr."""
    import subprocess
    import sys

    exports = tmp_path / "exports"
    exports.mkdir()
    for file in SAMPLE.glob("*.csv"):
        if file.name != "usage_snapshots.csv":
            (exports / file.name).write_bytes(file.read_bytes())
    closebook = Path(sys.executable).with_name("closebook")
    proc = subprocess.run(
        [
            str(closebook),
            "close",
            "--period",
            "2026-10",
            "--input",
            str(exports),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"closebook: error: missing input file: usage_snapshots.csv (or .parquet) in {exports}"
    ]
