"""What a test does when something it needs is not on the machine (root, tc, chromium,
systemd-nspawn): off CI it is skipped with the reason; under ``CI=true`` it fails, because
.ci/run installs everything the tests need, and a test skipped there is a test not run."""
from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the calling test (off CI) or fail it (``CI=true``), saying ``reason``."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
