"""When to roll back, resume or trust a project (the service knows how; this decides when).

- A crash (or watchdog kill) of the executor is counted against the current release; at
  ``crash_limit`` crashes within ``crash_window`` seconds the project is rolled back to the
  last good one, or to the default project, long before any systemd limit gives up.
- After repeated crashes the next start waits a little (exponential, capped), so a crash
  loop never spins.
- A project that was loading or loaded when the executor died is loaded again at start-up:
  the robot's program resumes, and a project that crashes at import keeps being counted.
- A project that loaded and then ran ``good_after`` seconds without a crash becomes the
  last good project.
- The decisions made, the executor switches to the interpreter of the release that is now
  current (its environment, see executor.interpreter), which takes them over as they are.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from executor import interpreter
from executor.project_store import ProjectStore
from executor.release_manifest import ProjectInfo
from executor.store_errors import StoreError
from executor.restart_history import RestartHistory, restart
from shared.exit_record import CLEAN_EXITS, CRASHED

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


@dataclass
class Startup:
    info: ProjectInfo
    last_restart: Dict[str, Any]
    rolled_back: Optional[Dict[str, Any]]
    resume: bool
    backoff: float

    def to_dict(self) -> Dict[str, Any]:
        return dict(asdict(self), info=self.info.to_dict())

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Startup":
        info = ProjectInfo(**dict(data["info"], path=Path(data["info"]["path"])))
        return cls(**dict(data, info=info))


class Lifecycle:
    def __init__(self, store: ProjectStore, history: RestartHistory, executor_config: Any):
        self.store, self.history, self.config = store, history, executor_config
        self._good_at: Optional[float] = None

    def start(self) -> Startup:
        """Decide how this executor starts, then run on the current release's interpreter
        (an exec, when it is another one: the new process takes the decisions over)."""
        handed_over = interpreter.take_handover()
        if handed_over is not None:
            return Startup.from_dict(handed_over)
        startup = self._decide()
        wanted = self.store.current_environment()
        envs = self.store.environments
        interpreter.switch(envs.running(), wanted, envs.interpreter_for(wanted),
                           startup.to_dict())
        return startup

    def _decide(self) -> Startup:
        last_restart = self.history.classify()
        # After a clean exit nothing is half-written: the release is trusted by size and
        # mtime instead of re-hashed (see release_manifest).
        info = self.store.prepare(clean_exit=last_restart["reason"] in CLEAN_EXITS)
        release = self.store.current_release_id()
        resume = self.history.was_loading(release)
        rolled_back, backoff = None, 0.0
        if last_restart["reason"] in CRASHED:
            crashes = self.history.record_crash(release, self.config.crash_window)
            if crashes >= self.config.crash_limit:
                rolled_back = self._roll_back(info, crashes, last_restart["detail"])
                info = self.store.current_info()
                last_restart = restart("rollback", rolled_back["reason"])
            elif crashes > 1:
                backoff = min(MAX_BACKOFF, 0.25 * 2 ** (crashes - 2))
        else:
            resume = False       # a clean restart (update, manual) starts unloaded
        self.history.clear_loading()
        return Startup(info, last_restart, rolled_back, resume, backoff)

    def _roll_back(self, bad: ProjectInfo, crashes: int, detail: str) -> Dict[str, Any]:
        good = self.store.rollback()
        self.history.forget_crashes()
        reason = ("project %s crashed the executor %d times within %g s (last: %s)"
                  % (bad.name, crashes, self.config.crash_window, detail))
        log.error("%s; rolled back to %s (%s)", reason, good.name, good.origin)
        return {"from": bad.to_dict(), "to": good.to_dict(), "reason": reason}

    def loading(self) -> None:
        self.history.mark_loading(self.store.current_release_id())

    def load_failed(self) -> None:
        """The import raised (it did not crash the process): nothing to resume."""
        self.history.clear_loading()

    def loaded(self) -> None:
        self._good_at = time.monotonic() + self.config.good_after

    def check_good(self) -> Optional[float]:
        """Mark the project good once it has run long enough; seconds until then, if pending."""
        if self._good_at is None:
            return None
        remaining = self._good_at - time.monotonic()
        if remaining > 0:
            return remaining
        self._good_at = None
        try:
            info = self.store.mark_good()
        except StoreError as e:
            log.warning("the project ran %g s without a crash, but cannot become the last "
                        "good project: %s", self.config.good_after, e)
            return None
        self.history.forget_crashes()
        log.info("project %s ran %g s without a crash; it is now the last good project",
                 info.name, self.config.good_after)
        return None

    def exiting(self, reason: str, detail: str = "") -> None:
        """A clean exit: record why, so the next start reports it."""
        self.history.record_exit(reason, detail)
        if reason not in CRASHED:
            self.history.clear_loading()
