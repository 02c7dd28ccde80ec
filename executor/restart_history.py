"""Why the executor (re)started, and how often its project crashed.

Decides ``last_restart`` from the two exit records in the runtime directory (/run/robotctl),
which shared.exit_record owns (names, format, how a stop is described): the executor's own
(why it exited cleanly) and the stop record (how it ended, from systemd or the dev
supervisor). It also keeps the recent crash times per release, which the rollback decision counts, and
whether the project was loading or loaded when the executor died, so it can be resumed.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, List

from shared import exit_record
from shared.exit_record import CRASHES, LOADED, OWN_RECORD
from shared.fsutil import remove_quietly, write_atomically

log = logging.getLogger(__name__)


def restart(reason: str, detail: str = "") -> Dict[str, Any]:
    return {"reason": reason, "detail": detail, "time": time.time()}


class RestartHistory:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def classify(self) -> Dict[str, Any]:
        """Why this executor started; consumes the exit records."""
        own = _read_json(self.run_dir / OWN_RECORD)
        stop = exit_record.read(str(self.run_dir), "executor")
        for path in (self.run_dir / OWN_RECORD, exit_record.path(str(self.run_dir), "executor")):
            remove_quietly(path)
        if own is None and stop is None:
            return restart("boot")
        if stop is not None and stop.get("SERVICE_RESULT") == "watchdog":
            return restart("watchdog", "the systemd watchdog killed the executor "
                                       "(its main loop stopped answering)")
        if stop is not None and exit_record.abnormal(stop):
            return restart("crash", exit_record.describe(stop))
        if own is not None and isinstance(own.get("reason"), str):
            return restart(own["reason"], str(own.get("detail", "")))
        return restart("manual")

    def record_exit(self, reason: str, detail: str = "") -> None:
        _write_json(self.run_dir / OWN_RECORD, {"reason": reason, "detail": detail})

    def record_crash(self, release: str, window: float) -> int:
        """Remember a crash of ``release``; return its crashes within the last ``window`` s."""
        now = time.time()
        crashes = [c for c in self._crashes() if now - c["time"] < window] + [
            {"time": now, "release": release}]
        _write_json(self.run_dir / CRASHES, crashes)
        return sum(1 for c in crashes if c["release"] == release)

    def forget_crashes(self) -> None:
        remove_quietly(self.run_dir / CRASHES)

    def _crashes(self) -> List[Dict[str, Any]]:
        crashes = _read_json(self.run_dir / CRASHES)
        return [c for c in crashes if isinstance(c, dict) and "time" in c] if isinstance(
            crashes, list) else []

    def mark_loading(self, release: str) -> None:
        (self.run_dir / LOADED).write_text(release)

    def clear_loading(self) -> None:
        remove_quietly(self.run_dir / LOADED)

    def was_loading(self, release: str) -> bool:
        """Was ``release`` loading or loaded when the previous executor died?"""
        try:
            return (self.run_dir / LOADED).read_text() == release
        except OSError:
            return False


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    write_atomically(path, json.dumps(value))
