"""Backfills (issue 11): `close --period A --through B` closes every month in order in
one run; each month publishes on its own, so a month that fails stops the run with
exit 1 and leaves the months before it closed. The exit code is the worst month's."""

from __future__ import annotations

import duckdb
import pytest

from closebook import pipeline
from closebook.pipeline import CloseFailed, months_through
from tests.exports import account, write_exports


@pytest.mark.parametrize(
    ("first", "last", "months"),
    [
        ("2026-08", "2026-10", ["2026-08", "2026-09", "2026-10"]),
        ("2026-11", "2027-02", ["2026-11", "2026-12", "2027-01", "2027-02"]),
        ("2026-10", "2026-10", ["2026-10"]),
    ],
)
def test_a_backfill_closes_every_month_in_order(first, last, months):
    assert months_through(first, last) == months


def test_through_before_period_is_a_usage_error(capsys):
    from closebook.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["close", "--period", "2026-10", "--through", "2026-08", "--input", "x"])
    assert exit_.value.code == 2
    assert "--through 2026-08 is before --period 2026-10" in capsys.readouterr().err


def _result(period: str, code: int) -> pipeline.CloseResult:
    return pipeline.CloseResult(period, code, [], 0, 0, [], "passed", None, 0)


@pytest.mark.parametrize(
    ("codes", "error", "expected"),
    [([0, 0], None, 0), ([0, 3, 0], None, 3), ([3, 0], "boom", 1), ([], "boom", 1)],
)
def test_a_backfill_exits_with_its_worst_month(codes, error, expected):
    from closebook.flows.close_flow import Backfill

    backfill = Backfill([_result(f"2026-0{i + 1}", c) for i, c in enumerate(codes)])
    backfill.error = error
    assert backfill.exit_code == expected


def exports(folder):
    return write_exports(
        folder,
        accounts=[account("A", contracted_quantity="2")],
        usage_snapshots=[
            {"account_id": "A", "observed_at": "2026-09-05", "metric": "users", "quantity": 1},
        ],
    )


def _close(tmp_path, *extra):
    from closebook.cli import main

    return main(
        [
            "close",
            "--period",
            "2026-08",
            "--through",
            "2026-10",
            "--input",
            str(exports(tmp_path / "in")),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
            "--as-of",
            "2026-11-20",
            "--no-prefect",
            *extra,
        ]
    )


def _closed(tmp_path) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        return con.execute("select period, exit_code from close_runs order by rowid").fetchall()
    finally:
        con.close()


def test_a_failing_month_stops_the_backfill_and_the_months_before_stay_closed(
    tmp_path, capsys, monkeypatch
):
    real_build = pipeline.step_build

    def build_fails_in_september(ctx):
        if ctx.period.period == "2026-09":
            raise CloseFailed("the build of September broke")
        return real_build(ctx)

    monkeypatch.setattr(pipeline, "step_build", build_fails_in_september)
    code = _close(tmp_path)
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == ["closebook: error: 2026-09: the build of September broke"]
    assert out.startswith("closebook close 2026-08:")
    assert "2026-10" not in out
    assert _closed(tmp_path) == [("2026-08", 0)]  # August closed; October never started
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    periods = con.execute("select distinct period from invoices order by 1").fetchall()
    con.close()
    # A contracted at 2 x 10.00 is invoiced every month; only August was published.
    assert periods == [("2026-08",)]


def test_a_clean_backfill_closes_each_month_once_in_order(tmp_path, capsys):
    code = _close(tmp_path)
    out = capsys.readouterr().out
    assert code == 0
    assert [line.split()[2] for line in out.splitlines() if line.startswith("closebook")] == [
        "2026-08:",
        "2026-09:",
        "2026-10:",
    ]
    assert _closed(tmp_path) == [("2026-08", 0), ("2026-09", 0), ("2026-10", 0)]
