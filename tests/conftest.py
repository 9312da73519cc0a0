"""Shared test settings: hypothesis profiles.

`HYPOTHESIS_PROFILE=ci` (bounded examples and deadlines, derandomized so a CI
run is repeatable) keeps the property and fuzz tests to a few seconds each;
`dev` (the default) is the same size but random, so local runs keep exploring;
`deep` is for a long hunt before a release (`HYPOTHESIS_PROFILE=deep pytest
tests/test_properties.py tests/test_fuzz_loaders.py`).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

_COMMON = {
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "deadline": timedelta(seconds=10),
}

# No deadline on CI: a busy runner must not turn a slow example into a failure.
settings.register_profile(
    "ci", max_examples=20, derandomize=True, print_blob=True, **{**_COMMON, "deadline": None}
)
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("deep", max_examples=500, **{**_COMMON, "deadline": None})
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
