"""The house's rules that a move can break: the library runs without Prefect, flows/ is
the Prefect layer only, and development tools stay out of the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_library_imports_no_prefect() -> None:
    # In a fresh interpreter: every module of closebook except the Prefect layer.
    code = """
import pkgutil, sys
import closebook
for module in pkgutil.walk_packages(closebook.__path__, "closebook."):
    if not module.name.startswith("closebook.flows"):
        __import__(module.name)
print(sorted(name for name in sys.modules if name.split(".")[0] == "prefect"))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_flows_holds_the_prefect_layer_only() -> None:
    # close_flow.py: the flows, tasks and deployment; temporary_server.py: the Prefect
    # server a `closebook close` starts and owns when no API is configured;
    # sharded_close.py: the same close sharded on Dask (docs/scale-out.md).
    assert sorted(p.name for p in (ROOT / "flows").glob("*.py")) == [
        "__init__.py",
        "close_flow.py",
        "sharded_close.py",
        "temporary_server.py",
    ]


def test_development_tools_are_not_in_the_package() -> None:
    assert not (ROOT / "closebook" / "sample_data.py").exists()
    assert (ROOT / "scripts" / "sample_data.py").exists()
