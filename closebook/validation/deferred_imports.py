"""Import a library with some of its dependencies deferred until first used.

Why: great-expectations imports, at start, modules a close never uses: scipy.stats
for its distribution expectations (KL divergence, KS test) and altair for its charts.
Of the 3.3 s of one core its import took here, they were 1.2 s, paid by every close
(at 10k accounts the import is longer than the load and the build it runs beside).
Deferred, each such module is created empty and runs its code the first time one of
its attributes is read, so a close that never draws a chart or tests a distribution
never pays for them, and one that does gets the real module, only later.

This is the standard library's `importlib.util.LazyLoader`, installed for the
duration of one import only: afterwards every import is ordinary again (a module
created deferred stays deferred until it is used).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

_lock = threading.Lock()


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds what the other finders find, for the named packages, and defers running it."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = tuple(packages)

    def _wanted(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self._wanted(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            # only loaders that can run a module into a given object can be deferred
            if isinstance(spec.loader, importlib.abc.Loader) and hasattr(
                spec.loader, "exec_module"
            ):
                spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


@contextmanager
def deferred(packages: Sequence[str]) -> Iterator[None]:
    """Within the block, modules of `packages` imported for the first time are deferred."""
    finder = _DeferringFinder(packages)
    with _lock:
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        with _lock:
            sys.meta_path.remove(finder)
