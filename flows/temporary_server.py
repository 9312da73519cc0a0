"""A temporary Prefect server whose lifetime the CLI owns.

Without a configured API, Prefect 3.8.8 starts its own temporary server
(`prefect.server.api.server.SubprocessASGIServer`: a uvicorn subprocess) the
first time a client is needed, and stops it from an `atexit` hook. Two things
went wrong with that for finance:

- a close killed with SIGTERM never runs `atexit`, and one killed with
  SIGKILL cannot; the uvicorn server stayed behind, holding a port and the
  Prefect database;
- each `closebook close` paid the server's start-up (~10-25 s), so
  `make demo`, three closes, paid it three times.

`owned_server()` starts the same server once for the whole command, with the
child asking Linux to SIGTERM it when its parent dies (`PR_SET_PDEATHSIG`), so
even a SIGKILLed close does not leave it running; it registers the server as
Prefect's default instance, so Prefect's own code uses it instead of starting
another, and stops it on the way out. The CLI turns SIGTERM into a normal exit
so the `finally` runs (see `closebook/cli.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

PR_SET_PDEATHSIG = 1
_owned: list[SubprocessASGIServer] = []


def _die_with_parent(parent: int) -> None:
    """Run in the child before exec: SIGTERM me when the process that started me dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


class ParentWatchedServer(SubprocessASGIServer):
    """Prefect's temporary server, started so that it dies with this process."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        original = subprocess.Popen
        parent = os.getpid()

        def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
            return original(*args, preexec_fn=lambda: _die_with_parent(parent), **kwargs)

        subprocess.Popen = popen  # type: ignore[misc] - only for the one call below
        try:
            return super()._run_uvicorn_command()
        finally:
            subprocess.Popen = original  # type: ignore[misc]


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
def owned_server() -> Iterator[str | None]:
    """Run the body against a configured API, or against one temporary server we own.

    Yields the API URL of the server we started, or None when the user configured one.
    """
    if PREFECT_API_URL.value():
        yield None
        return
    server = ParentWatchedServer(port=None)
    previous = SubprocessASGIServer._instances.get(None)
    SubprocessASGIServer._instances[None] = server
    try:
        server.start()
        _owned.append(server)
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        if _owned:
            _drain()
        _owned.clear()
        server.stop()
        if previous is not None:
            SubprocessASGIServer._instances[None] = previous
