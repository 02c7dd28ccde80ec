"""The lifecycle of one request: run, reply once, or time out.

Each request runs on the loop's own thread (see leadership) or on a worker thread (see
worker_pool). The reply is sent exactly once: by the thread that ran the work when it ends,
or by the main loop when ``max_execution_time`` passes first. Python cannot kill a thread,
so a timed-out call keeps running and its late result is logged and dropped; the executor
keeps serving meanwhile. Such a call still counts as in flight (``status`` shows
``calls_in_flight``), and so does a running stop hook: past ``max_calls_in_flight`` a new
call is refused at once, so threads stay bounded.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from executor.event_channel import EventChannel
from executor.python_runtime import describe_exception
from executor.worker_pool import Job, WorkerPool
from shared import error_codes, protocol

log = logging.getLogger(__name__)

# Starts a job: WorkerPool.submit (a worker) or Leadership.run_inline (the loop's thread).
Runner = Callable[[Job], None]


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


def failed(message: str, code: str, data: Optional[Dict[str, Any]] = None) -> Result:
    """An error Result: ``data`` with ``code`` (shared.error_codes) added."""
    return Result(protocol.ERROR, message, protocol.error_data(code, data))


@dataclass(eq=False)      # hashed by identity: a key of CallTracker._timed
class _Call:
    request_id: str
    label: str
    limit: Optional[float] = None     # max_execution_time, if the call has one
    deadline: float = 0.0
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class CallTracker:
    def __init__(self, pool: WorkerPool, channel: EventChannel, project_dir: Callable[[], Path],
                 max_in_flight: int):
        self._pool = pool
        self._channel = channel
        self._project_dir = project_dir
        # The calls with a time limit that have not been answered, per limit, in the order
        # they started (so in deadline order): an answered call leaves at once, so this
        # holds the calls in flight, not every call of the last max_execution_time.
        self._timed: Dict[float, Dict[_Call, None]] = {}
        self._timed_lock = threading.Lock()
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._count_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """User calls and stop hooks running now, finished in time or not."""
        return self._in_flight

    @property
    def timed_calls(self) -> int:
        """Calls waiting for an answer or their time limit, whichever comes first."""
        with self._timed_lock:
            return sum(len(calls) for calls in self._timed.values())

    def run(self, request_id: str, label: str, work: Callable[[], Result],
            timeout: Optional[float] = None, bounded: bool = False,
            runner: Optional[Runner] = None) -> None:
        """Run ``work`` on a worker (or with ``runner``) and reply to ``request_id`` with its
        Result (the loop's thread).

        A ``bounded`` call (a user's) is refused at once when max_calls_in_flight run."""
        if bounded and self._in_flight >= self._max_in_flight:
            log.warning("refused %s: %d calls in flight", label, self._in_flight)
            self._channel.reply(request_id, protocol.ERROR, (
                "too many calls in flight (%d, executor.max_calls_in_flight); %s was not run"
                % (self._in_flight, label)), protocol.error_data(error_codes.TOO_MANY_CALLS))
            return
        call = _Call(request_id, label)
        if timeout:
            call.limit, call.deadline = timeout, time.monotonic() + timeout
            with self._timed_lock:
                self._timed.setdefault(timeout, {})[call] = None
        # What ``work`` raises is the user's code failing in a user call, else a bug.
        raised = error_codes.USER_EXCEPTION if bounded else error_codes.INTERNAL_ERROR
        self.submit(lambda: self._finish(call, self._outcome(work, raised)), counted=bounded,
                    runner=runner)

    def submit(self, job: Callable[[], None], counted: bool = True,
               runner: Optional[Runner] = None) -> None:
        """Run ``job`` on a worker (or with ``runner``), counted in ``in_flight`` while it runs
        (stop hooks)."""
        start = runner or self._pool.submit
        if not counted:
            start(job)
            return
        self._count(1)

        def tracked() -> None:
            try:
                job()
            finally:
                self._count(-1)
        start(tracked)

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._in_flight += change

    def _outcome(self, work: Callable[[], Result], raised: str) -> Result:
        try:
            return work()
        except BaseException as e:  # noqa: B902 - sys.exit() in a method is an error reply too
            message, details = describe_exception(e, self._project_dir())
            return failed(message, raised, {"error": details})

    def _finish(self, call: _Call, result: Result) -> None:
        with call.lock:
            if call.done:
                log.warning("%s finished after its time limit; its result was dropped", call.label)
                return
            call.done = True
        if call.limit is not None:
            with self._timed_lock:
                del self._timed[call.limit][call]
        self._channel.reply(call.request_id, result.status, result.message, result.data)
        if result.after_reply is not None:
            result.after_reply()

    def expire(self) -> Optional[float]:
        """Answer calls whose time is up; return the seconds until the next deadline, if any."""
        now = time.monotonic()
        with self._timed_lock:
            late = [call for calls in self._timed.values()
                    for call in itertools.takewhile(lambda call: call.deadline <= now, calls)]
        for call in late:
            if not call.done:
                log.warning("%s exceeded max_execution_time (%g s)", call.label, call.limit)
                self._finish(call, failed("%s did not finish within max_execution_time (%g s); "
                                          "it keeps running in the background"
                                          % (call.label, call.limit or 0),  # a late call has a limit
                                          error_codes.TIMEOUT))
        with self._timed_lock:
            nearest = [next(iter(calls)).deadline for calls in self._timed.values() if calls]
        return max(0.0, min(nearest) - now) if nearest else None
