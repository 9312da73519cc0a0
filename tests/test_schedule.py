"""The scheduled close: the 3rd of each month, for the month before (contract §2.4)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from closebook.flows.close_flow import close_flow, monthly_deployment, previous_month
from closebook.pipeline import CloseFailed

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("today", "period"),
    [(date(2026, 11, 3), "2026-10"), (date(2027, 1, 3), "2026-12"), (date(2026, 3, 31), "2026-02")],
)
def test_a_scheduled_run_closes_the_previous_month(today, period):
    assert previous_month(today) == period


def test_deployment_runs_at_six_utc_on_the_third_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deployment = monthly_deployment("/exports", "data/warehouse.duckdb", "reports")
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 3 * *", "UTC")
    # Relative paths are resolved where the deployment is made, not where a worker runs.
    assert deployment.parameters == {
        "input_dir": "/exports",
        "warehouse": str(tmp_path / "data" / "warehouse.duckdb"),
        "reports_dir": str(tmp_path / "reports"),
    }
    assert deployment.flow_name == close_flow.name == "monthly-close"


def test_deployment_runs_one_close_at_a_time_and_queues_the_next():
    deployment = monthly_deployment("/exports", "/w.duckdb", "/reports")
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"


def test_deployment_of_the_bundled_sample_is_refused():
    with pytest.raises(CloseFailed, match="is the bundled sample"):
        monthly_deployment(ROOT / "data" / "sample", "/w.duckdb", "/reports")
    with pytest.raises(CloseFailed, match="is the bundled sample"):
        monthly_deployment(ROOT / "data" / "sample" / ".." / "sample", "/w.duckdb", "/reports")


def test_the_flow_has_no_default_exports_folder():
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(close_flow.fn)
    assert "input_dir" in schema.required
    assert "default" not in schema.properties["input_dir"]


def test_prefect_yaml_deploys_the_same_schedule_limit_and_required_paths():
    import yaml

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    assert deployment["entrypoint"] == "flows/close_flow.py:close_flow"
    assert deployment["schedules"] == [{"cron": "0 6 3 * *", "timezone": "UTC"}]
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    # Paths only from the deployer's environment: no sample default can slip in.
    assert deployment["parameters"] == {
        "input_dir": "{{ $CLOSEBOOK_INPUT_DIR }}",
        "warehouse": "{{ $CLOSEBOOK_WAREHOUSE }}",
        "reports_dir": "{{ $CLOSEBOOK_REPORTS }}",
    }
    assert deployment["work_pool"]["name"] == "closebook"


def test_serve_refuses_the_bundled_sample_in_one_line(capsys):
    from closebook.cli import main

    code = main(["serve", "--input", str(ROOT / "data" / "sample")])
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"closebook: error: {ROOT / 'data' / 'sample'} is the bundled sample; "
        "deploy with the real exports folder"
    ]
