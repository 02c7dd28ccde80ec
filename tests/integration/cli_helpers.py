"""Running `robotctl` (python3 -m gateway.cli) as a subprocess, shared by test_cli.py and
test_cli_deploy.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import List

from tests.appliance import REPO, wait_for


def cli_env(**extra: str) -> dict:
    """The environment of a robotctl run: no token or URL from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOTCTL_")}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
               ROBOTCTL_TOKEN_FILE=str(REPO / "tests" / "no-such-token-file"))
    env.update(extra)
    return env


def command(url: str, args: List[str]) -> List[str]:
    return [sys.executable, "-m", "gateway.cli", "--url", url] + args


def robotctl(url: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(url, list(args)), cwd=str(REPO), env=cli_env(**env),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def json_of(result: subprocess.CompletedProcess):
    return json.loads(ok(result))


def run_until_free(url: str, *args: str) -> subprocess.CompletedProcess:
    """Run a controlling command, retrying while the appliance still counts a client that
    just disconnected as the controller (it learns of the disconnect asynchronously)."""
    def attempt():
        result = robotctl(url, *args)
        return None if result.returncode == 3 and "busy" in result.stderr else result
    return wait_for(attempt, what="control of the robot")
