"""A deployment that cannot close the wrong data (issue 11), end to end: a real
`prefect server start`, a process work pool, `prefect deploy` of the repository's
prefect.yaml, a run picked up by a worker; and a run pointed at the bundled sample
is refused. Marked `flow`: it starts a Prefect server (~1-3 minutes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.flow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def prefect_api(tmp_path):
    """`prefect server start` on a free loopback port with its own database; stopped after."""
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    env.pop("PREFECT_API_KEY", None)
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, "prefect server exited"
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prefect server did not start"
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


def prefect(env, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def run_once(env, *params: str) -> dict:
    """Start a run of the deployment, let one worker run it, return the run's final state."""
    out = prefect(env, "deployment", "run", "monthly-close/monthly-close", *params)
    run_id = out.split("/runs/flow-run/")[1].split()[0].strip()
    prefect(env, "worker", "start", "--pool", "closebook", "--run-once", timeout=600)
    state = httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{run_id}").json()["state"]
    return {"type": state["type"], "name": state["name"], "message": state["message"]}


def test_prefect_deploy_of_the_yaml_runs_the_monthly_close_and_refuses_the_sample(
    prefect_api, tmp_path
):
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE, exports)
    env = {
        **prefect_api,
        "CLOSEBOOK_INPUT_DIR": str(exports),
        "CLOSEBOOK_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CLOSEBOOK_REPORTS": str(tmp_path / "reports"),
    }
    prefect(env, "work-pool", "create", "closebook", "--type", "process")
    prefect(env, "--no-prompt", "deploy", "--name", "monthly-close")

    state = run_once(env, "--param", "period=2026-10", "--param", "as_of=2026-11-20")
    # The sample copy has held invoices and rejected rows on purpose: exit 3.
    assert state == {
        "type": "COMPLETED",
        "name": "Needs review",
        "message": "2 invoices held, 3 input rows rejected",
    }
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("select period, exit_code from close_runs").fetchall() == [("2026-10", 3)]
    con.close()

    refused = run_once(env, "--param", f"input_dir={SAMPLE}", "--param", "period=2026-10")
    assert refused["type"] == "FAILED"
    assert f"input_dir {SAMPLE} is the bundled sample" in refused["message"]
