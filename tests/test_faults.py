"""Reruns and faults (contract §5): a close killed at any step leaves the period's
previous complete results; the next run completes; one close at a time.

Each close runs in a subprocess (`python -c`) that we SIGKILL at a chosen point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from closebook.loading import LoadError
from closebook.locking import WarehouseBusy
from closebook.pipeline import CloseFailed
from tests.exports import account, write_exports

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-10"
TABLES = ("invoices", "invoice_lines", "hwm_usage", "rejected_rows", "load_counts")

RUNNER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from closebook import pipeline, publish
    from closebook.locking import warehouse_lock

    mode, period, input_dir, warehouse, flag = sys.argv[1:]
    ctx = pipeline.CloseContext.create(
        period, Path(input_dir), Path(warehouse), Path(warehouse).parent / "reports"
    )

    def signal_and_wait():
        Path(flag).write_text(str(os.getpid()))
        while True:
            time.sleep(0.1)

    if mode == "kill_in_publish":
        calls = []
        original = publish._replace_period

        def replace_then_die(con, table, period):
            calls.append(table)
            if len(calls) == 2:  # the first table's delete + insert are done, uncommitted
                os.kill(os.getpid(), signal.SIGKILL)
            return original(con, table, period)

        publish._replace_period = replace_then_die
    if mode == "kill_in_workbook":
        import xlsxwriter

        def die_mid_write(self):
            Path(self.filename).write_bytes(b"PK\\x03\\x04 truncated")
            os.kill(os.getpid(), signal.SIGKILL)

        xlsxwriter.Workbook.close = die_mid_write
        # The workbooks are written by worker processes: fork them, so they inherit
        # the writer that dies mid-write.
        import closebook.workbooks

        closebook.workbooks.START_METHOD = "fork"

    with warehouse_lock(ctx.warehouse):
        if mode == "hold_lock":
            signal_and_wait()
        pipeline.step_load(ctx)
        pipeline.step_build(ctx)
        if mode == "wait_before_publish":
            signal_and_wait()
        status, report = pipeline.step_validate(ctx)
        pipeline.step_publish(ctx)
        if mode in ("full_with_workbooks", "kill_in_workbook"):
            pipeline.step_workbooks(ctx, status, report)
    """
)


def start(mode: str, folder: Path, warehouse: Path, flag: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, mode, PERIOD, str(folder), str(warehouse), str(flag)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(mode: str, folder: Path, warehouse: Path) -> subprocess.CompletedProcess:
    proc = start(mode, folder, warehouse, warehouse.parent / "unused.flag")
    out, err = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(flag: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the close never reached the point to kill"
        time.sleep(0.05)


def contents(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            t: con.execute(
                f"select * from main.{t} where period = ? order by all", [PERIOD]
            ).fetchall()
            for t in TABLES
        }
    finally:
        con.close()


def exports(folder: Path, contracted: int) -> Path:
    return write_exports(
        folder,
        accounts=[account("A", contracted_quantity=str(contracted)), account("B")],
        usage_snapshots=[
            {"account_id": "B", "observed_at": "2026-10-05", "metric": "users", "quantity": 4},
            {"account_id": "B", "observed_at": "2026-10-06", "metric": "users", "quantity": "x"},
        ],
    )


@pytest.fixture
def closed_with_a(tmp_path: Path) -> tuple[Path, Path, dict[str, list[tuple]]]:
    """A warehouse where the period was closed with data A (A contracted at 2)."""
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    folder_a = exports(tmp_path / "a", contracted=2)
    done = run("full", folder_a, warehouse)
    assert done.returncode == 0, done.stderr
    before = contents(warehouse)
    totals = [row[5] for row in before["invoices"]]
    assert Decimal("20.00") in totals  # 2 x 10.00
    return warehouse, exports(tmp_path / "b", contracted=7), before


@pytest.mark.parametrize("mode", ["wait_before_publish", "kill_in_publish"])
def test_a_close_killed_before_or_inside_publish_leaves_the_previous_results(
    closed_with_a, tmp_path, mode
):
    warehouse, folder_b, before = closed_with_a
    flag = tmp_path / f"{mode}.flag"
    proc = start(mode, folder_b, warehouse, flag)
    if mode == "wait_before_publish":
        wait_for(flag, proc)
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=180)
    assert proc.returncode == -signal.SIGKILL
    assert contents(warehouse) == before  # exactly A's complete results

    again = run("full", folder_b, warehouse)  # the next run completes with B
    assert again.returncode == 0, again.stderr
    after = contents(warehouse)
    assert Decimal("70.00") in [row[5] for row in after["invoices"]]  # 7 x 10.00
    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    assert run("full", folder_b, fresh).returncode == 0
    assert after == contents(fresh)  # as if the killed run never happened


def test_a_workbook_write_killed_midway_leaves_the_old_workbook(tmp_path):
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    done = run("full_with_workbooks", exports(tmp_path / "a", contracted=2), warehouse)
    assert done.returncode == 0, done.stderr
    book = warehouse.parent / "reports" / PERIOD / "invoices.xlsx"
    old = book.read_bytes()
    killed = run("kill_in_workbook", exports(tmp_path / "b", contracted=7), warehouse)
    # The writer process was killed: the close fails (its pool is broken), and the
    # workbook it was replacing is the complete previous one.
    assert killed.returncode == 1
    assert "BrokenProcessPool" in killed.stderr
    assert book.read_bytes() == old
    assert zipfile.ZipFile(book).testzip() is None  # still a complete workbook


def test_a_second_close_on_a_busy_warehouse_fails_fast_with_one_line(tmp_path, capsys):
    from closebook.cli import main

    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    folder = exports(tmp_path / "a", contracted=2)
    assert run("full", folder, warehouse).returncode == 0
    before = contents(warehouse)
    flag = tmp_path / "hold.flag"
    holder = start("hold_lock", folder, warehouse, flag)
    try:
        wait_for(flag, holder)
        code = main(
            [
                "close",
                "--period",
                PERIOD,
                "--input",
                str(exports(tmp_path / "b", 7)),
                "--warehouse",
                str(warehouse),
                "--reports",
                str(tmp_path / "r"),
                "--no-prefect",
            ]
        )
        err = capsys.readouterr().err.splitlines()
        # Fast: it gave up while the other close still held the lock (the holder
        # waits until it is killed), instead of queueing behind it.
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.communicate()
    assert code == 1
    assert len(err) == 1 and "is being closed by closebook pid" in err[0], err
    assert contents(warehouse) == before


def test_warehouse_open_in_another_program_is_one_clear_line(tmp_path, capsys):
    from closebook.cli import main

    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()
    flag = tmp_path / "open.flag"
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time, pathlib; c = duckdb.connect(sys.argv[1]); "
            "pathlib.Path(sys.argv[2]).write_text('x'); time.sleep(120)",
            str(warehouse),
            str(flag),
        ],
    )
    try:
        wait_for(flag, other)
        code = main(
            [
                "close",
                "--period",
                PERIOD,
                "--input",
                str(exports(tmp_path / "a", 2)),
                "--warehouse",
                str(warehouse),
                "--reports",
                str(tmp_path / "r"),
                "--no-prefect",
            ]
        )
        err = capsys.readouterr().err.splitlines()
    finally:
        other.kill()
        other.communicate()
    assert code == 1
    assert err == [
        f"closebook: error: warehouse {warehouse} is open in process {other.pid} "
        "(DuckDB allows one writer); close it there and run again"
    ]


def test_prefect_retries_only_reading_exports():
    from closebook.flows import close_flow

    tasks = {
        name: getattr(close_flow, name)
        for name in (
            "load_exports_task",
            "build_models_task",
            "validate_task",
            "publish_task",
            "workbooks_task",
        )
    }
    assert {name: t.retries for name, t in tasks.items()} == {
        "load_exports_task": 2,
        "build_models_task": 0,
        "validate_task": 0,
        "publish_task": 0,
        "workbooks_task": 0,
    }


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (LoadError("missing input file: license_prices.csv"), False),
        (CloseFailed("validation could not run"), False),
        (WarehouseBusy("warehouse is being closed by closebook pid 1"), False),
        (FileNotFoundError("exports/usage_snapshots.csv"), False),
        (OSError(5, "Input/output error"), True),  # a network share that blinked
        (TimeoutError(), True),
    ],
)
def test_only_failures_that_can_heal_are_retried(error, retried):
    from prefect.states import Failed

    from closebook.flows import close_flow

    task = close_flow.load_exports_task
    assert task.retry_condition_fn is close_flow.can_heal
    state = Failed(data=error)
    assert close_flow.can_heal(task, None, state) is retried


def test_every_task_has_a_timeout_above_its_100k_benchmark():
    from closebook.flows import close_flow

    # docs/benchmarks.md, 100k accounts: load 12.8 s, build 43.6 s, validate 23.9 s,
    # publish 1.7 s, workbooks 72.2 s; each timeout leaves a slow or busier box room.
    benchmark = {
        "load_exports_task": 12.8,
        "build_models_task": 43.6,
        "validate_task": 23.9,
        "publish_task": 1.7,
        "workbooks_task": 72.2,
    }
    for name, seconds in benchmark.items():
        timeout = getattr(close_flow, name).timeout_seconds
        assert timeout is not None and timeout >= 5 * seconds, name
