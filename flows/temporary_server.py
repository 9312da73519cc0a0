"""A temporary Prefect server whose lifetime the CLI owns, started as early as possible.

Without a configured API, Prefect 3.8.8 starts its own temporary server
(`prefect.server.api.server.SubprocessASGIServer`: a uvicorn subprocess) the
first time a client is needed, and stops it from an `atexit` hook. Three things
went wrong with that for finance:

- a close killed with SIGTERM never runs `atexit`, and one killed with
  SIGKILL cannot; the uvicorn server stayed behind, holding a port and the
  Prefect database;
- each `closebook close` paid the server's start-up, so `make demo`, three
  closes, paid it three times;
- the start-up was paid in series with everything else: the parent imported
  Prefect's whole server package (~3-4 s) only to launch a subprocess that
  imports it again, then waited for it (~4 s on a migrated database, ~13 s
  on a new one) before importing anything the close itself needs.

`launch()` starts the same uvicorn command Prefect runs (same app factory, same
environment) once for the whole command, without importing `prefect.server` in
this process, with the child asking Linux to SIGTERM it when its parent dies
(`PR_SET_PDEATHSIG`), so even a SIGKILLed close does not leave it running. The
caller does its own imports while the server boots (`TemporaryServer.wait`), and
runs the close with `PREFECT_API_URL` pointing at it, so Prefect's own code
never starts another. The CLI turns SIGTERM into a normal exit so the `finally`
runs (see `closebook/cli.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import prefect
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    get_current_settings,
    temporary_settings,
)

PR_SET_PDEATHSIG = 1
PORT_IN_USE = 3  # uvicorn's exit code when its port was taken before it bound it
_owned: list[TemporaryServer] = []


def _die_with_parent(parent: int) -> None:
    """Run in the child before exec: SIGTERM me when the process that started me dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _free_port() -> int:
    """A port nothing listens on now (the kernel's pick); uvicorn may still lose it."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """Prefect's temporary API server as a uvicorn child that dies with this process."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = self._run_uvicorn()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _run_uvicorn(self) -> subprocess.Popen[bytes]:
        """The command and environment of Prefect's `SubprocessASGIServer._run_uvicorn_command`."""
        parent = os.getpid()
        environment = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(Path(prefect.__file__).resolve().parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=environment,
            # Linux only (prctl); elsewhere the CLI's `finally` still stops it on exit.
            preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,
        )

    def wait(self, timeout: float | None = None) -> None:
        """Block until the API answers its health check (or say why it never will)."""
        limit = timeout or float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == PORT_IN_USE:  # another process took the port first: pick again
                self.port = _free_port()
                self.process = self._run_uvicorn()
                continue
            if code is not None:
                raise RuntimeError(f"the temporary Prefect server exited with code {code}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the temporary Prefect server did not start within {limit:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _drain() -> None:
    """Send the run's last log lines and events before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.instance().drain(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    with contextlib.suppress(RuntimeError):  # a worker never started has nothing to send
        run_coro_as_sync(drain())


def owns_server() -> bool:
    """True while this process runs the close against a server it started itself."""
    return bool(_owned)


@contextmanager
def owned_server(while_starting: Callable[[], object] | None = None) -> Iterator[str | None]:
    """Run the body against a configured API, or against one temporary server we own.

    `while_starting` runs while the server boots (imports the close needs anyway),
    so its cost hides behind the start-up. Yields the API URL of the server we
    started, or None when the user configured one.
    """
    if PREFECT_API_URL.value():
        if while_starting is not None:
            while_starting()
        yield None
        return
    server = TemporaryServer()
    try:
        if while_starting is not None:
            while_starting()
        server.wait()
        _owned.append(server)
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                # Inside the settings: Prefect's log worker is keyed by the API URL, and
                # asking for it without one would start yet another temporary server.
                _drain()
    finally:
        _owned.clear()
        server.stop()
