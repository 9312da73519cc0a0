"""One close at a time per warehouse.

DuckDB already allows a single writing process per file, but a close opens the
file once per step; without a lock of its own, a second close could slip in
between two steps and publish the other's build tables. The lock file sits
beside the warehouse and is held for the whole close.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another close holds the warehouse."""


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[None]:
    """Hold `<warehouse>.lock` exclusively for the duration, or fail at once with who holds it."""
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"warehouse {warehouse} is being closed by {holder}; "
                "wait for that close to finish and run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"closebook pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
