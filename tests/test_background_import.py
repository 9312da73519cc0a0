"""great-expectations is imported beside the build, on the core DuckDB leaves idle.

The import is seconds of pure Python; at the normal priority it took one of the two
cores from the build's heaviest model. Its thread runs at the lowest priority instead
(Linux), and validation still finds GX imported.
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

from closebook.validation import gx_runner


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_import_thread_runs_at_the_lowest_priority(monkeypatch) -> None:
    seen: dict[str, int] = {}

    def import_gx() -> None:
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    monkeypatch.setattr(gx_runner, "import_gx", import_gx)
    monkeypatch.setattr(gx_runner, "_warming", None)  # not the thread an earlier test began
    before = os.getpriority(os.PRIO_PROCESS, 0)
    gx_runner.warm_up().join(timeout=30)
    assert seen["thread"] == 19
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the close's own thread is untouched


def test_validation_finds_gx_imported_after_the_warm_up() -> None:
    gx_runner.warm_up().join(timeout=120)
    assert "great_expectations" in sys.modules
    assert gx_runner.import_gx() is sys.modules["great_expectations"]


def test_the_build_starts_the_import_once(monkeypatch, tmp_path) -> None:
    from closebook import pipeline
    from tests.exports import account, write_exports

    calls: list[int] = []
    monkeypatch.setattr(gx_runner, "import_gx", lambda: calls.append(1))
    monkeypatch.setattr(gx_runner, "_warming", None)
    folder = write_exports(tmp_path / "in", accounts=[account("A1")])
    ctx = pipeline.CloseContext.create("2026-10", folder, tmp_path / "w.duckdb", tmp_path / "r")
    pipeline.step_load(ctx)
    assert gx_runner._warming is None  # not during the load: its threads need the GIL
    pipeline.step_build(ctx)
    started = gx_runner._warming
    assert started is not None and started.name == "gx-import"
    assert gx_runner.warm_up() is started  # a second call starts nothing
    started.join(timeout=30)
    assert calls == [1]
