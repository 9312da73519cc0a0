"""Deferred imports: a module's code runs when first used, never lost, and only for the
packages named, only within the block (closebook/validation/deferred_imports.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from closebook.validation.deferred_imports import deferred


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`deferme` with two modules that record, in `deferme.ran`, when their code runs."""
    root = tmp_path / "deferme"
    root.mkdir()
    (root / "__init__.py").write_text("ran = []\n")
    for name in ("heavy", "other"):
        (root / f"{name}.py").write_text(
            textwrap.dedent(
                f"""
                import deferme
                deferme.ran.append({name!r})
                VALUE = {name!r} * 2
                """
            )
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [m for m in sys.modules if m == "deferme" or m.startswith("deferme.")]:
        del sys.modules[name]


def test_a_deferred_module_runs_when_first_used_and_gives_its_real_values(package) -> None:
    with deferred(["deferme.heavy"]):
        import deferme
        import deferme.heavy
    assert deferme.ran == []  # imported, not run
    assert deferme.heavy.VALUE == "heavyheavy"
    assert deferme.ran == ["heavy"]  # run once, on first use
    assert deferme.heavy.VALUE == "heavyheavy"
    assert deferme.ran == ["heavy"]


def test_only_the_named_packages_and_only_within_the_block_are_deferred(package) -> None:
    finders = list(sys.meta_path)
    with deferred(["deferme.heavy"]):
        import deferme
        import deferme.other
    assert deferme.ran == ["other"]  # not named: ran at import
    assert sys.meta_path == finders  # the finder is gone after the block
    import deferme.heavy

    assert deferme.ran == ["other", "heavy"]  # after the block: an ordinary import


def test_great_expectations_imports_without_running_scipy_stats_and_still_validates() -> None:
    """In a fresh interpreter, as a close starts: GX works with its deferred modules."""
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from closebook.validation.gx_runner import import_gx
        gx = import_gx()
        print(type(sys.modules["scipy.stats"]).__name__, type(sys.modules["altair"]).__name__)
        context = gx.get_context(mode="ephemeral")
        batch = (
            context.data_sources.add_pandas("p")
            .add_dataframe_asset("a")
            .add_batch_definition_whole_dataframe("b")
            .get_batch(batch_parameters={"dataframe": pd.DataFrame({"q": [1, 2, -1]})})
        )
        rule = gx.expectations.ExpectColumnValuesToBeBetween(column="q", min_value=0)
        result = batch.validate(rule)
        print(result.success, result.result["unexpected_count"])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["_LazyModule _LazyModule", "False 1"]
