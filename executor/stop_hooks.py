"""Running a project's ``stop()`` hooks, each under a time limit.

A hook that hangs is reported and abandoned on its worker thread; it never blocks the
executor's main loop, the gateway, or the next client.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from executor.python_runtime import describe_exception

log = logging.getLogger(__name__)


def run_all(hooks: List[Tuple[str, Callable[[], Any]]], pool: Any, timeout: float,
            project_dir: Path) -> List[Dict[str, Any]]:
    """Run the hooks concurrently on ``pool`` (anything with ``submit(job)``); return one
    report per hook: {hook, status, message}. A problem reads like a call's error:
    ``SystemExit: 3 (main.py, line 12)``."""
    done = {name: threading.Event() for name, _ in hooks}
    outcome: Dict[str, str] = {}

    def call(name: str, hook: Callable[[], Any]) -> None:
        try:
            hook()
            outcome[name] = ""
        except BaseException as e:  # noqa: B902 - sys.exit() in a hook is reported too
            outcome[name] = describe_exception(e, project_dir)[0]
        done[name].set()

    for name, hook in hooks:
        pool.submit(lambda name=name, hook=hook: call(name, hook))
    deadline = time.monotonic() + timeout
    return [_report(name, done[name].wait(max(0.0, deadline - time.monotonic())),
                    outcome.get(name, ""), timeout) for name, _ in hooks]


def _report(name: str, finished: bool, problem: str, timeout: float) -> Dict[str, Any]:
    if not finished:
        log.error("%s() did not return within %g s; it was abandoned", name, timeout)
        return {"hook": name, "status": "timeout",
                "message": "%s() did not return within %g s" % (name, timeout)}
    if problem:
        log.error("%s() raised %s", name, problem)
        return {"hook": name, "status": "error", "message": problem}
    return {"hook": name, "status": "success", "message": "%s() returned" % name}
