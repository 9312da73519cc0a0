"""The scheduled close: the 3rd of each month, for the month before (contract §2.4)."""

from __future__ import annotations

from datetime import date

import pytest

from closebook.flows.close_flow import close_flow, monthly_deployment, previous_month


@pytest.mark.parametrize(
    ("today", "period"),
    [(date(2026, 11, 3), "2026-10"), (date(2027, 1, 3), "2026-12"), (date(2026, 3, 31), "2026-02")],
)
def test_a_scheduled_run_closes_the_previous_month(today, period):
    assert previous_month(today) == period


def test_deployment_runs_at_six_utc_on_the_third_with_the_exports_folder():
    deployment = monthly_deployment("/exports", "data/warehouse.duckdb", "reports")
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 3 * *", "UTC")
    assert deployment.parameters == {
        "input_dir": "/exports",
        "warehouse": "data/warehouse.duckdb",
        "reports_dir": "reports",
    }
    assert deployment.flow_name == close_flow.name == "monthly-close"
