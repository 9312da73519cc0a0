"""The `closebook` command ends without tearing the interpreter down (`cli.run`), and
loses nothing by it: the summary reaches a pipe whole, the exit code is the close's,
the exit handlers run, and the warehouse is complete and opens afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from closebook import cli

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
CLOSEBOOK = Path(sys.executable).with_name("closebook")


def test_the_command_through_a_pipe_prints_its_whole_summary_and_exits_3(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    proc = subprocess.run(
        [
            str(CLOSEBOOK),
            "close",
            "--period",
            "2026-10",
            "--input",
            str(SAMPLE),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(tmp_path / "r"),
            "--as-of",
            "2026-11-20",
            "--no-prefect",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # the sample holds invoices and rejects rows on purpose: a finished close, exit 3
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("closebook close 2026-10: finished with held invoices")
    assert lines[-1] == f"  workbooks: {tmp_path / 'r' / '2026-10'}/"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        periods = con.execute("select distinct period from main.invoices").fetchall()
    finally:
        con.close()
    assert periods == [("2026-10",)]


def test_run_waits_for_threads_runs_exit_handlers_then_exits_with_mains_code(
    monkeypatch,
) -> None:
    events: list[str] = []

    def main() -> int:
        import threading
        import time

        def late() -> None:
            time.sleep(0.2)
            events.append("thread done")

        threading.Thread(target=late).start()
        return 3

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: events.append("exit handlers"))
    monkeypatch.setattr(cli.os, "_exit", lambda code: events.append(f"os._exit({code})"))
    cli.run()
    assert events == ["thread done", "exit handlers", "os._exit(3)"]
