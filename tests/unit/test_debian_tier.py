"""tests/debian_tier.py on a machine without Debian's python3-* packages (here: bookworm's
python3 with its site-packages hidden by -S): off CI one line says what to install and it
exits 0; under CI=true it fails."""
from __future__ import annotations

import os
import subprocess

from tests.appliance import REPO

DEBIAN_PYTHON = "/usr/bin/python3"


def run_tier(ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([DEBIAN_PYTHON, "-S", "tests/debian_tier.py"], cwd=str(REPO), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)


def test_off_ci_the_tier_is_skipped_with_what_to_install() -> None:
    result = run_tier(ci=False)
    assert result.returncode == 0, result.stdout
    [line] = result.stdout.splitlines()
    assert line.startswith("debian tier: skipped (CI is not set): ")
    assert "apt-get install python3-socketio python3-eventlet python3-zmq" in line
    assert "Traceback" not in result.stdout


def test_on_ci_a_missing_package_fails_the_tier() -> None:
    result = run_tier(ci=True)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith("debian tier: FAILED: ")
    assert "apt-get install python3-socketio" in result.stdout
