"""Validate a built close with great-expectations before anything is published.

Why this exists: the SQL models implement the contract, and these checks state the
contract's invariants a second, independent way (keys unique, enums in range, every
invoice total = the sum of its rounded lines, HWM >= every snapshot, balances conserved,
exactly the invoices each account should have). A failure holds the invoices it can be
pinned on, or stops the close before publish (`runner`).

The rooms:
- `checks`: how a check is written (a SQL frame and its expectations) and the SQL form
  of each expectation, so DuckDB finds the rows that can fail;
- `input_suite`, `output_suite`: the checks themselves, by what they look at;
- `gx_runner`: great-expectations judging each check on the rows DuckDB hands it;
- `runner`: `validate_close`, attributing failures to invoices and holding them;
- `results`, `report`: `build.validation_results` and `validation.html`.
"""

from __future__ import annotations

from .checks import Check, Expect
from .gx_runner import CHUNK_ROWS, warm_up
from .input_suite import INPUT_CHECKS
from .output_suite import OUTPUT_CHECKS
from .report import write_report
from .results import CheckResult, ValidationResult, record_external_check
from .runner import validate_close

__all__ = [
    "CHUNK_ROWS",
    "INPUT_CHECKS",
    "OUTPUT_CHECKS",
    "Check",
    "CheckResult",
    "Expect",
    "ValidationResult",
    "record_external_check",
    "validate_close",
    "warm_up",
    "write_report",
]
