"""What a person running the close sees while it runs: one line per finished step.

A 100k-account close takes minutes; without this the terminal stays silent
until the summary. The pipeline calls a `Reporter` when a step starts and
when it finishes (step, rows, seconds); the CLI picks the terminal reporter
when stderr is a terminal or `--progress` is given, and the silent one
otherwise, so piped and scheduled runs keep their output exactly as before:
the summary on stdout and, on failure, one line on stderr.

The same reporter serves the Prefect flow and `--no-prefect`; the flow adds
one that writes the same lines to the run's log (`flows/close_flow.py`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TextIO


@dataclass(frozen=True)
class StepDone:
    """A finished step: what it handled and how long it took."""

    period: str
    step: str
    rows: int | None
    unit: str
    seconds: float

    def line(self) -> str:
        """`2026-10  load        1,507 rows read       0.4 s`: aligned, one line."""
        what = f"{self.rows:,} {self.unit}" if self.rows is not None else self.unit
        return f"{self.period}  {self.step:<10} {what:<24} {self.seconds:7.1f} s"


class Reporter(Protocol):
    def step_started(self, period: str, step: str) -> None: ...

    def step_finished(self, done: StepDone) -> None: ...

    def note(self, text: str) -> None: ...


class Silent:
    """The reporter of a piped or scheduled run: says nothing."""

    def step_started(self, period: str, step: str) -> None:
        pass

    def step_finished(self, done: StepDone) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class Terminal:
    """Lines on a stream (stderr); on a terminal, a ticking `step ... 12 s` while a step runs.

    The live indicator redraws one line with a carriage return, so it is only
    drawn on a terminal; written to a file, only the finished lines appear.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, tick: float = 1.0):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.tick = tick
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    def step_started(self, period: str, step: str) -> None:
        self._stop_ticker()
        if not self.live:
            return
        self._stop = threading.Event()
        started = time.monotonic()

        def tick() -> None:
            while not self._stop.wait(self.tick):
                with self._lock:
                    elapsed = time.monotonic() - started
                    self.stream.write(f"\r{period}  {step:<10} ... {elapsed:4.0f} s")
                    self.stream.flush()

        self._ticker = threading.Thread(target=tick, name="closebook-progress", daemon=True)
        self._ticker.start()

    def step_finished(self, done: StepDone) -> None:
        self._stop_ticker()
        self._write(done.line())

    def note(self, text: str) -> None:
        self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            clear = "\r\033[K" if self.live else ""
            self.stream.write(f"{clear}{text}\n")
            self.stream.flush()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None


class Fanout:
    """Several reporters as one (the terminal and the Prefect run log)."""

    def __init__(self, *reporters: Reporter):
        self.reporters = reporters

    def step_started(self, period: str, step: str) -> None:
        for reporter in self.reporters:
            reporter.step_started(period, step)

    def step_finished(self, done: StepDone) -> None:
        for reporter in self.reporters:
            reporter.step_finished(done)

    def note(self, text: str) -> None:
        for reporter in self.reporters:
            reporter.note(text)


def for_terminal(requested: bool, stream: TextIO | None = None) -> Reporter:
    """The CLI's choice: progress when asked for or when the stream is a terminal."""
    stream = stream or sys.stderr
    if requested or stream.isatty():
        return Terminal(stream)
    return Silent()


# The Prefect flow cannot take a reporter as a parameter (parameters are stored
# on the server), so the CLI hands it over through this context variable.
_current: ContextVar[Reporter | None] = ContextVar("closebook_progress", default=None)


def current() -> Reporter:
    """The reporter of the close running in this context (Silent if none was set)."""
    return _current.get() or Silent()


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Make `reporter` the current one for the duration."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
