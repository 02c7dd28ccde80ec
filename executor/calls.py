"""The lifecycle of one request: run on a worker, reply once, or time out.

Each request runs on its own worker thread (see worker_pool). The reply is sent exactly once:
by the worker when the work ends, or by the main loop when ``max_execution_time`` passes
first. Python cannot kill a thread, so a timed-out call keeps running and its late result is
logged and dropped; the executor keeps serving meanwhile.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from executor.event_channel import EventChannel
from executor.python_runtime import describe_exception
from executor.worker_pool import WorkerPool
from shared import protocol

log = logging.getLogger(__name__)


@dataclass
class Result:
    status: str
    message: str
    data: Any = None
    # Runs once the reply is on its way (e.g. the exit after an update, which must not
    # close the sockets before the reply is sent).
    after_reply: Optional[Callable[[], None]] = None


def ok(message: str, data: Any = None, after_reply: Optional[Callable[[], None]] = None) -> Result:
    return Result(protocol.SUCCESS, message, data, after_reply)


def failed(message: str, data: Any = None) -> Result:
    return Result(protocol.ERROR, message, data)


@dataclass
class _Call:
    request_id: int
    label: str
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class CallTracker:
    def __init__(self, pool: WorkerPool, channel: EventChannel, project_dir: Callable[[], Path]):
        self._pool = pool
        self._channel = channel
        self._project_dir = project_dir
        self._deadlines: List[Tuple[float, int, _Call, float]] = []
        self._order = itertools.count()

    def run(self, request_id: int, label: str, work: Callable[[], Result],
            timeout: Optional[float] = None) -> None:
        """Run ``work`` on a worker and reply to ``request_id`` with its Result (main thread)."""
        call = _Call(request_id, label)
        if timeout:
            heapq.heappush(self._deadlines,
                           (time.monotonic() + timeout, next(self._order), call, timeout))
        self._pool.submit(lambda: self._finish(call, self._outcome(work)))

    def _outcome(self, work: Callable[[], Result]) -> Result:
        try:
            return work()
        except Exception as e:
            message, details = describe_exception(e, self._project_dir())
            return failed(message, {"error": details})

    def _finish(self, call: _Call, result: Result) -> None:
        with call.lock:
            if call.done:
                log.warning("%s finished after its time limit; its result was dropped", call.label)
                return
            call.done = True
        self._channel.reply(call.request_id, result.status, result.message, result.data)
        if result.after_reply is not None:
            result.after_reply()

    def expire(self) -> Optional[float]:
        """Answer calls whose time is up; return the seconds until the next deadline, if any."""
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, call, limit = heapq.heappop(self._deadlines)
            if not call.done:
                log.warning("%s exceeded max_execution_time (%g s)", call.label, limit)
                self._finish(call, failed("%s did not finish within max_execution_time (%g s); "
                                          "it keeps running in the background" % (call.label, limit)))
        while self._deadlines and self._deadlines[0][2].done:
            heapq.heappop(self._deadlines)   # finished in time: forget the deadline
        return max(0.0, self._deadlines[0][0] - now) if self._deadlines else None
