"""One close at a time per warehouse.

DuckDB already allows a single writing process per file, but a close opens the
file once per step; without a lock of its own, a second close could slip in
between two steps and publish the other's build tables. The lock file sits
beside the warehouse and is held for the whole close.

Another program holding the DuckDB file itself (an analyst's DuckDB CLI or
notebook with the warehouse open for writing) is checked when the lock is
taken, so the close fails at once with one clear line instead of a DuckDB
traceback halfway through.

The lock is `filelock`'s (flock on Linux and macOS, LockFileEx on Windows:
finance teams close on Windows too); the OS drops it when the process dies,
so a crashed close never leaves the warehouse locked. Who holds it is written
to `<warehouse>.lock.holder` beside it, because on Windows the locked file
itself cannot be read by the process that is refused.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from closebook.engine import open_warehouse


class WarehouseBusy(RuntimeError):
    """Another close holds the warehouse."""


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[None]:
    """Hold `<warehouse>.lock` exclusively for the duration, or fail at once with who holds it."""
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    holder_path = warehouse.with_name(warehouse.name + ".lock.holder")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise WarehouseBusy(
            f"warehouse {warehouse} is being closed by {_holder(holder_path)}; "
            "wait for that close to finish and run again"
        ) from None
    try:
        holder_path.write_text(f"closebook pid {os.getpid()} on {socket.gethostname()}")
        check_not_open_elsewhere(warehouse)
        yield
    finally:
        with suppress(OSError):
            holder_path.unlink()
        lock.release()


def _holder(holder_path: Path) -> str:
    try:
        return holder_path.read_text().strip() or "another process"
    except OSError:
        return "another process"


def duckdb_lock_message(warehouse: Path, error: BaseException) -> str | None:
    """One line saying who holds the DuckDB file, if `error` is DuckDB's lock conflict."""
    text = str(error)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    pid = re.search(r"PID (\d+)", text)
    holder = f"process {pid.group(1)}" if pid else "another program"
    return (
        f"warehouse {warehouse} is open in {holder} (DuckDB allows one writer); "
        "close it there and run again"
    )


def check_not_open_elsewhere(warehouse: Path) -> None:
    """Raise WarehouseBusy when another process has the DuckDB file open."""
    if not warehouse.exists():
        return
    try:
        open_warehouse(warehouse).close()
    except duckdb.Error as error:
        message = duckdb_lock_message(warehouse, error)
        if message:
            raise WarehouseBusy(message) from None
        # any other problem with the file is reported by the step that opens it
