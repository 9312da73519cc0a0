"""`pip install .` gives a working closebook: the wheel, installed non-editable in a
fresh venv, closes the bundled sample from outside the checkout.

Slow (a venv with the whole runtime lock: a few minutes on a busy 2-core box), so
marked `packaging`; `make test` (CI) runs it. Everything it writes, pip's cache
included, stays under the test's tmp dir; the source is copied there first so
that building the wheel leaves no `build/` or egg-info in the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.pipeline import close_period

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-10"
AS_OF = "2026-11-20"
WORKBOOKS = {"invoices.xlsx", "overage.xlsx", "prepaid.xlsx", "reconciliation.xlsx"}
TOTALS = """
    select currency, status, count(*) as invoices, sum(total) as total
    from main.invoices where period = ? group by all order by all
"""


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )


def _checked(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = _run(command, cwd, env)
    assert done.returncode == 0, (
        f"{command[:4]} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )
    return done.stdout


def _tracked_source(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _totals(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(TOTALS, [PERIOD]).fetchall()
    finally:
        con.close()


def test_the_installed_wheel_closes_the_sample_like_the_checkout(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(
        PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    source = _tracked_source(tmp_path / "source")
    wheels = tmp_path / "wheels"
    _checked(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source],
        tmp_path,
        env,
    )
    (wheel,) = wheels.glob("closebook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "closebook/sql/marts/invoices.sql" in names
    assert "closebook/sql/macros.sql" in names
    assert "closebook/flows/close_flow.py" in names
    assert not [n for n in names if n.startswith(("scripts/", "tests/")) or "sample_data" in n]

    venv = tmp_path / "venv"
    _checked([sys.executable, "-m", "venv", venv], tmp_path, env)
    pip = [venv / "bin" / "python", "-m", "pip"]
    _checked(
        [*pip, "install", "--quiet", "--no-deps", "-r", ROOT / "requirements.lock"], tmp_path, env
    )
    _checked([*pip, "install", "--quiet", "--no-deps", wheel], tmp_path, env)
    # Every dependency the wheel declares is met by the runtime lock, within its bounds.
    _checked([*pip, "check"], tmp_path, env)

    run_dir = tmp_path / "elsewhere"  # not the checkout: nothing importable from the tree
    run_dir.mkdir()
    where = _checked(
        [venv / "bin" / "python", "-c", "import closebook.models as m; print(m.SQL_DIR)"],
        run_dir,
        env,
    )
    assert Path(where.strip()).is_relative_to(venv), where

    exports = shutil.copytree(ROOT / "data" / "sample", tmp_path / "exports")
    closed = _run(
        [
            venv / "bin" / "closebook",
            "close",
            "--no-prefect",
            "--period",
            PERIOD,
            "--input",
            exports,
            "--warehouse",
            run_dir / "warehouse.duckdb",
            "--reports",
            run_dir / "reports",
            "--as-of",
            AS_OF,
        ],
        run_dir,
        env,
    )
    # The sample has rejected rows and held invoices on purpose: finished, needs a look.
    assert closed.returncode == 3, closed.stderr
    assert {p.name for p in (run_dir / "reports" / PERIOD).glob("*.xlsx")} == WORKBOOKS

    reference = tmp_path / "checkout"
    close_period(
        PERIOD, exports, reference / "warehouse.duckdb", reference / "reports", date(2026, 11, 20)
    )
    installed = _totals(run_dir / "warehouse.duckdb")
    assert installed and installed == _totals(reference / "warehouse.duckdb")
