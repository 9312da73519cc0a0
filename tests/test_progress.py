"""Progress a person can follow (issue 11): one line per finished step on stderr
when asked for or on a terminal; piped runs print exactly what they printed before."""

from __future__ import annotations

import io
import threading

from closebook import progress
from closebook.pipeline import close_period
from closebook.progress import StepDone, Terminal
from tests.exports import account, write_exports

STEPS = ["load", "build", "validate", "publish", "workbooks"]


def exports(folder):
    # 2 accounts rows + 1 usage row = 3 data rows read; the other required files are empty.
    return write_exports(
        folder,
        accounts=[account("A", contracted_quantity="2"), account("B")],
        usage_snapshots=[
            {"account_id": "B", "observed_at": "2026-10-05", "metric": "users", "quantity": 4}
        ],
    )


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_close_reports_each_step_as_it_finishes_with_rows_and_seconds(tmp_path):
    stream = io.StringIO()
    close_period(
        "2026-10",
        exports(tmp_path / "in"),
        tmp_path / "w.duckdb",
        tmp_path / "r",
        progress=Terminal(stream, live=False),
    )
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == STEPS
    assert all(line.startswith("2026-10  ") and line.endswith(" s") for line in lines)
    assert "3 rows read" in lines[0]
    assert "4 workbooks" in lines[4]
    assert "\r" not in stream.getvalue()  # no live redraws in a file


def test_a_finished_step_is_one_aligned_line():
    done = StepDone("2026-10", "build", 12345, "rows read", 3.14159)
    assert done.line() == "2026-10  build      12,345 rows read             3.1 s"


def test_on_a_terminal_a_long_step_ticks_then_leaves_only_its_finished_line():
    stream = FakeTerminal()
    reporter = Terminal(stream, tick=0.01)
    ticked = threading.Event()
    original_write = stream.write

    def write(text: str) -> int:
        if "..." in text:
            ticked.set()
        return original_write(text)

    stream.write = write  # type: ignore[method-assign]
    reporter.step_started("2026-10", "build")
    assert ticked.wait(10)
    reporter.step_finished(StepDone("2026-10", "build", 49, "models", 2.0))
    text = stream.getvalue()
    assert "\r2026-10  build      ... " in text
    # the finished line clears the ticking one
    assert text.endswith("\r\033[K2026-10  build      49 models                    2.0 s\n")


def test_the_cli_chooses_progress_only_on_a_terminal_or_when_asked():
    assert isinstance(progress.for_terminal(False, io.StringIO()), progress.Silent)
    assert isinstance(progress.for_terminal(True, io.StringIO()), Terminal)
    assert isinstance(progress.for_terminal(False, FakeTerminal()), Terminal)


def _close(tmp_path, *extra):
    from closebook.cli import main

    return main(
        [
            "close",
            "--period",
            "2026-10",
            "--input",
            str(exports(tmp_path / "in")),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
            "--no-prefect",
            *extra,
        ]
    )


def test_piped_the_cli_prints_the_summary_and_nothing_on_stderr(tmp_path, capsys):
    code = _close(tmp_path)
    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    assert out.startswith("closebook close 2026-10: every invoice issued")


def test_with_progress_the_steps_go_to_stderr_and_stdout_keeps_the_summary(tmp_path, capsys):
    code = _close(tmp_path, "--progress")
    out, err = capsys.readouterr()
    assert code == 0
    assert [line.split()[1] for line in err.splitlines()] == STEPS
    assert out.startswith("closebook close 2026-10: every invoice issued")
