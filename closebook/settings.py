"""Environment defaults applied before Prefect is imported.

Prefect reads its settings at import time; the close never wants usage
analytics sent from a finance machine, and a cold temporary server needs more
than the default start-up time on a busy 2-core CI box.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def apply_defaults() -> None:
    """Set each default unless the user's environment already chose a value."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
