"""Why the executor (re)started, and how often its project crashed.

Decides ``last_restart`` from two records in the runtime directory (/run/robotctl):
- ``executor-exit.json``, written by the executor itself just before a clean exit, with the
  reason (update, reload, rollback, manual);
- ``executor-last-exit``, written after every stop by systemd's ``ExecStopPost=`` hook (or
  the dev supervisor): ``SERVICE_RESULT=… EXIT_CODE=… EXIT_STATUS=… TIME=…``.
It also keeps the recent crash times per release, which the rollback decision counts, and
whether the project was loading or loaded when the executor died, so it can be resumed.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

log = logging.getLogger(__name__)

EXIT_RECORD = "executor-exit.json"
STOP_RECORD = "executor-last-exit"
CRASHES = "executor-crashes.json"
LOADED = "executor-loaded"


def restart(reason: str, detail: str = "") -> Dict[str, Any]:
    return {"reason": reason, "detail": detail, "time": time.time()}


class RestartHistory:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def classify(self) -> Dict[str, Any]:
        """Why this executor started; consumes the exit records."""
        own = _read_json(self.run_dir / EXIT_RECORD)
        stop = _read_fields(self.run_dir / STOP_RECORD)
        for name in (EXIT_RECORD, STOP_RECORD):
            _remove(self.run_dir / name)
        if own is None and stop is None:
            return restart("boot")
        if stop is not None and stop.get("SERVICE_RESULT") == "watchdog":
            return restart("watchdog", "the systemd watchdog killed the executor "
                                       "(its main loop stopped answering)")
        if stop is not None and _abnormal(stop):
            return restart("crash", _describe_exit(stop))
        if own is not None and isinstance(own.get("reason"), str):
            return restart(own["reason"], str(own.get("detail", "")))
        return restart("manual")

    def record_exit(self, reason: str, detail: str = "") -> None:
        _write_json(self.run_dir / EXIT_RECORD, {"reason": reason, "detail": detail})

    def record_crash(self, release: str, window: float) -> int:
        """Remember a crash of ``release``; return its crashes within the last ``window`` s."""
        now = time.time()
        crashes = [c for c in self._crashes() if now - c["time"] < window] + [
            {"time": now, "release": release}]
        _write_json(self.run_dir / CRASHES, crashes)
        return sum(1 for c in crashes if c["release"] == release)

    def forget_crashes(self) -> None:
        _remove(self.run_dir / CRASHES)

    def _crashes(self) -> List[Dict[str, Any]]:
        crashes = _read_json(self.run_dir / CRASHES)
        return [c for c in crashes if isinstance(c, dict) and "time" in c] if isinstance(
            crashes, list) else []

    def mark_loading(self, release: str) -> None:
        (self.run_dir / LOADED).write_text(release)

    def clear_loading(self) -> None:
        _remove(self.run_dir / LOADED)

    def was_loading(self, release: str) -> bool:
        """Was ``release`` loading or loaded when the previous executor died?"""
        try:
            return (self.run_dir / LOADED).read_text() == release
        except OSError:
            return False


def _abnormal(stop: Dict[str, str]) -> bool:
    return stop.get("EXIT_CODE", "exited") != "exited" or stop.get("EXIT_STATUS", "0") != "0"


def _describe_exit(stop: Dict[str, str]) -> str:
    status = stop.get("EXIT_STATUS", "?")
    if stop.get("EXIT_CODE") in ("killed", "dumped"):
        return "killed by signal %s" % status
    return "exited with status %s" % status


def _read_fields(path: Path) -> Optional[Dict[str, str]]:
    try:
        text = path.read_text()
    except OSError:
        return None
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(value))
    os.replace(str(temp), str(path))


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
