"""Which Python runs the executor: the current release's environment, else robotctl's own.

The store keeps ``projects_dir/current-env`` pointing at the environment of the release
`current` points to (no link: the release has none), and the unit's launcher
(units/executor-launch) and ``make run`` start the executor on that environment's python,
so an update costs no second start. Should the start-up decisions pick another release
than the link named (a repair, a rollback, or a ``projects_dir`` the launcher does not
know), the executor execs itself into the right interpreter, handing those decisions over
in the environment, so they are made exactly once. exec keeps the PID: systemd's notify
socket and watchdog see one process.
"""
from __future__ import annotations

import json
import logging
import os
import site
import sys
from pathlib import Path
from typing import Any, Dict, Optional

log = logging.getLogger(__name__)

HANDOVER = "ROBOTCTL_STARTUP"                # start-up decisions made before the exec
CODE_DIR = str(Path(__file__).resolve().parent.parent)


def running_environment(envs: Path) -> Optional[str]:
    """The id of the project environment (under ``envs``) this process runs in, if any."""
    if sys.prefix == sys.base_prefix:
        return None
    prefix = Path(sys.prefix).resolve()
    return prefix.name if prefix.parent == Path(envs).resolve() else None


def runtime(record: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """robotctl's own interpreter and, when that is a venv (development), its
    site-packages, which a project environment adds to its path. In a project
    environment, as recorded by the environment (``record``: its marker)."""
    if record is not None and isinstance(record.get("runtime"), dict):
        recorded: Dict[str, Any] = record["runtime"]
        return recorded
    if sys.prefix == sys.base_prefix:
        return {"python": sys.executable, "site": []}
    return {"python": sys.executable,
            "site": [d for d in site.getsitepackages() if d.startswith(sys.prefix)]}


def take_handover() -> Optional[Dict[str, Any]]:
    """The start-up decisions of the process that exec'd this one, if it did."""
    text = os.environ.pop(HANDOVER, None)
    if text is None:
        return None
    try:
        handover: Dict[str, Any] = json.loads(text)
        return handover
    except ValueError:
        log.error("ignored an unreadable start-up hand-over")
        return None


def switch(running: Optional[str], wanted: Optional[str], target: str,
           handover: Dict[str, Any]) -> None:
    """Exec ``target`` (the python of environment ``wanted``, or robotctl's own when that
    is None) unless this process already runs in ``wanted``. Returns only when no exec
    was needed or it failed (then logged: the project runs without its environment, and
    its imports say what is missing)."""
    if running == wanted:
        return
    env = dict(os.environ, **{HANDOVER: json.dumps(handover)})
    env["PYTHONPATH"] = os.pathsep.join([CODE_DIR] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != CODE_DIR])
    log.info("switching to the interpreter %s (environment %s)", target, wanted or "none")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(target, [target, "-m", "executor"] + sys.argv[1:], env)
    except OSError as exc:
        log.error("cannot run the project's interpreter %s: %s", target, exc)
