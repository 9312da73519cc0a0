"""A killed close leaves no temporary Prefect server behind (issue 12, item 6).

Without a configured API the CLI starts one temporary server for the whole
command (`flows/temporary_server.py`). SIGTERM makes the CLI exit through its
`finally`, which stops the server; SIGKILL cannot be caught, and the server,
started with PR_SET_PDEATHSIG, is sent SIGTERM by the kernel when its parent dies.
Marked `flow`: each case starts a real temporary server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.flow


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def is_server(pid: int) -> bool:
    try:
        return b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has already gone
        return False


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_close_does_not_leave_its_prefect_server_running(tmp_path, signum):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    close = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("closebook")),
            "close",
            "--period",
            "2026-10",
            "--input",
            str(SAMPLE),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        servers: list[int] = []

        def server_started() -> bool:
            servers[:] = [pid for pid in children(close.pid) if is_server(pid)]
            return bool(servers) or close.poll() is not None

        wait_until(server_started, 120, "the close never started its server")
        assert servers, "the close finished before its server could be seen"
        os.kill(close.pid, signum)
        close.wait(timeout=60)
        (server,) = servers
        wait_until(lambda: not alive(server), 30, f"server {server} outlived its close")
    finally:
        if close.poll() is None:
            close.kill()
            close.wait()
