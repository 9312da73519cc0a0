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
    before = os.getpriority(os.PRIO_PROCESS, 0)
    gx_runner.warm_up().join(timeout=30)
    assert seen["thread"] == 19
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the close's own thread is untouched


def test_validation_finds_gx_imported_after_the_warm_up() -> None:
    gx_runner.warm_up().join(timeout=120)
    assert "great_expectations" in sys.modules
    assert gx_runner.import_gx() is sys.modules["great_expectations"]
