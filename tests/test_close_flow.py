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
    state = close_flow(
        period="2026-10",
        input_dir=str(SAMPLE),
        warehouse=str(warehouse),
        reports_dir=str(reports),
        as_of="2026-11-20",
        return_state=True,
    )
    return state.result(), warehouse, reports, state.state_details.flow_run_id


def test_flow_closes_the_sample_month_into_warehouse_and_workbooks(closed_sample):
    result, warehouse, reports, _ = closed_sample
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
    # A missing file cannot heal: load-exports ran once, not three times.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        loads = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="load-exports"))
        )
    failed = [t for t in loads if t.state is not None and t.state.is_failed()]
    assert len(failed) == 1
    assert failed[0].run_count == 1


def _run(run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _run_named(name: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return next(r for r in client.read_flow_runs() if r.name == name)


def test_a_close_with_held_invoices_ends_needs_review_with_its_counts(closed_sample):
    run = _run(closed_sample[3])
    # The sample's October: 2 USD invoices held, 3 rows rejected (see the summary).
    assert run.state.is_completed()
    assert run.state.name == "Needs review"
    assert run.state.message == "2 invoices held, 3 input rows rejected"


def test_the_run_log_in_prefect_has_each_step_at_info(closed_sample):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    run = _run(closed_sample[3])
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    info = [log.message for log in logs if log.level == 20]
    for step in ("load", "build", "validate", "publish", "workbooks"):
        assert any(m.startswith(f"2026-10  {step} ") and m.endswith(" s") for m in info), step
    assert any("2026-10  load       1,507 rows read" in m for m in info)
    assert (
        "closebook close 2026-10: finished with held invoices or rejected input rows (exit 3)"
        in (info)
    )


def test_artifacts_show_minor_units_and_paths_relative_to_the_reports_folder(closed_sample):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    _, _, reports, _ = closed_sample
    with get_client(sync_client=True) as client:
        (totals,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["close-totals-2026-10"])),
            limit=1,
        )
        (summary,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["close-summary-2026-10"])),
            limit=1,
        )
    table = totals.data if isinstance(totals.data, list) else __import__("json").loads(totals.data)
    jpy = [row for row in table if row["currency"] == "JPY"]
    usd = [row for row in table if row["currency"] == "USD"]
    assert jpy and all("." not in row["issued_total"] for row in jpy)  # yen has no decimals
    assert usd and all(row["issued_total"].split(".")[1].isdigit() for row in usd)
    assert all(len(row["held_total"].split(".")[1]) == 2 for row in usd)
    text = str(summary.data)
    assert "`2026-10/invoices.xlsx`" in text
    assert "`2026-10/validation.html` (validation report)" in text
    assert f"`{reports.resolve()}`" in text
    assert "file://" not in text


def test_a_backfill_is_one_run_with_a_subflow_per_month(prefect_server, tmp_path):
    from closebook.flows.close_flow import backfill_flow

    state = backfill_flow(
        input_dir=str(SAMPLE),
        period="2026-08",
        through="2026-09",
        warehouse=str(tmp_path / "w.duckdb"),
        reports_dir=str(tmp_path / "r"),
        as_of="2026-11-20",
        return_state=True,
    )
    backfill = state.result()
    assert [r.period for r in backfill.results] == ["2026-08", "2026-09"]
    assert state.name == "Needs review"  # the sample's months each end with exit 3
    parent = _run_named("close-2026-08..2026-09")
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        months = {r.name: r for r in client.read_flow_runs() if r.parent_task_run_id}
        parents = {
            name: client.read_task_run(months[name].parent_task_run_id).flow_run_id
            for name in ("close-2026-08", "close-2026-09")
            if name in months
        }
    assert parents == {"close-2026-08": parent.id, "close-2026-09": parent.id}


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


def test_a_backfill_through_the_flow_stops_at_the_failing_month_in_one_line(
    prefect_server, tmp_path, capsys
):
    from closebook.cli import main

    exports = tmp_path / "exports"
    exports.mkdir()
    for file in SAMPLE.glob("*.csv"):
        if file.name != "license_prices.csv":
            (exports / file.name).write_bytes(file.read_bytes())
    code = main(
        [
            "close",
            "--period",
            "2026-09",
            "--through",
            "2026-10",
            "--input",
            str(exports),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.strip().splitlines()[-1] == (
        "closebook: error: 2026-09: missing input file: license_prices.csv (or .parquet) "
        f"in {exports}"
    )
