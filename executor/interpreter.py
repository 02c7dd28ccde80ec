"""Which Python runs the executor: the current release's environment, else robotctl's own.

The unit (and ``make run``) start the executor with robotctl's interpreter. Once the
start-up decisions are made (which release is current, after repairs and rollbacks), the
executor execs itself into the interpreter that release needs, handing those decisions
over in the environment, so they are made exactly once. exec keeps the PID: systemd's
notify socket and watchdog see one process. A release without an environment runs on
robotctl's interpreter exactly as before, with no exec.
"""
from __future__ import annotations

import json
import logging
import os
import site
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

log = logging.getLogger(__name__)

RUNTIME_PYTHON = "ROBOTCTL_RUNTIME_PYTHON"   # robotctl's own interpreter
RUNTIME_SITE = "ROBOTCTL_RUNTIME_SITE"       # its site-packages when it is itself a venv
PROJECT_ENV = "ROBOTCTL_PROJECT_ENV"         # the environment id this process runs in
HANDOVER = "ROBOTCTL_STARTUP"                # start-up decisions made before the exec
CODE_DIR = str(Path(__file__).resolve().parent.parent)


def runtime_python() -> str:
    return os.environ.get(RUNTIME_PYTHON) or sys.executable


def runtime_site_dirs() -> List[str]:
    """Where robotctl's own dependencies live when its interpreter is a venv (development);
    a project environment adds these to its path. Empty for the system's Python: an
    environment made with --system-site-packages sees those already."""
    if RUNTIME_PYTHON in os.environ:
        return [d for d in os.environ.get(RUNTIME_SITE, "").split(os.pathsep) if d]
    if sys.prefix == sys.base_prefix:
        return []
    return [d for d in site.getsitepackages() if d.startswith(sys.prefix)]


def running_environment() -> Optional[str]:
    return os.environ.get(PROJECT_ENV) or None


def take_handover() -> Optional[Dict[str, Any]]:
    """The start-up decisions of the process that exec'd this one, if it did."""
    text = os.environ.pop(HANDOVER, None)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        log.error("ignored an unreadable start-up hand-over")
        return None


def switch(environment: Optional[str], python: Optional[Path], handover: Dict[str, Any]) -> None:
    """Exec into ``python`` (the interpreter of ``environment``), or back into robotctl's
    own interpreter when ``environment`` is None, unless this process already is it.
    Returns only when no exec was needed or it failed (then logged: the project runs
    without its environment, and its imports say what is missing)."""
    if environment == running_environment():
        return
    env = dict(os.environ, **{RUNTIME_PYTHON: runtime_python(),
                              RUNTIME_SITE: os.pathsep.join(runtime_site_dirs()),
                              HANDOVER: json.dumps(handover)})
    env["PYTHONPATH"] = os.pathsep.join([CODE_DIR] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != CODE_DIR])
    if environment is None:
        env.pop(PROJECT_ENV, None)
        target = runtime_python()
    else:
        env[PROJECT_ENV] = environment
        target = str(python)
    log.info("switching to the interpreter %s (environment %s)", target, environment or "none")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(target, [target, "-m", "executor"] + sys.argv[1:], env)
    except OSError as exc:
        log.error("cannot run the project's interpreter %s: %s", target, exc)
