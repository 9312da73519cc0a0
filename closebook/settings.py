"""Environment defaults applied before Prefect is imported.

Prefect reads its settings at import time; the close never wants usage
analytics sent from a finance machine, its run logs at INFO (what a Prefect
user expects to find in the UI), and a cold temporary server needs more
than the default start-up time on a busy 2-core CI box.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # The run's own log (steps, rows, seconds) belongs in the Prefect UI; the
    # terminal stays concise because the CLI quiets Prefect's console handler.
    "PREFECT_LOGGING_LEVEL": "INFO",
}


def apply_defaults() -> None:
    """Set each default unless the user's environment already chose a value."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
