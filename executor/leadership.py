"""Which thread runs the executor's main loop: exactly one at a time, the leader.

The leader runs a call itself, at once, on the thread that received it: no handoff to a
worker, so no futex wake and no GIL ping-pong between two threads per call. A call still
running after HANDOFF_AFTER loses the lead: a one-shot timer wakes the main thread, which
hands the loop to a worker thread (an idle one if there is one); the old leader replies
when its call ends, then goes idle. So new commands, signals, deadlines and the watchdog
wait at most ~HANDOFF_AFTER behind a slow call (plus the GIL's switch interval, once or
twice, if the call computes in Python without releasing the GIL).

The main thread never leads and never runs user code: it waits in ``sigwait`` for the timer
and for the end of the loop. The timer is ``setitimer(ITIMER_REAL)``: arming and disarming
it costs two system calls and no thread wake-up when it does not fire. Its SIGALRM is
blocked in every thread (block_timer_signal, before the first thread starts: threads inherit
the mask), so it interrupts no system call of any thread (no robot SDK sees EINTR) and is
only ever taken by that ``sigwait``.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable, Optional

from executor.worker_pool import Job, WorkerPool

log = logging.getLogger(__name__)

# How long a call may hold the loop before another thread takes the loop over. Long enough
# that nearly every call (a setter, a getter, a short computation: tens to hundreds of µs)
# ends first and costs no thread wake-up at all; short enough that a quick call (an
# emergency stop) arriving behind a slow one waits about as long as one more hop, and far
# below the watchdog's and max_execution_time's scales (seconds).
HANDOFF_AFTER = 0.002

TIMER_SIGNAL = signal.SIGALRM

# The loop, run while a thread leads: True once the executor has shut down, False when the
# thread lost the lead (a takeover during its inline call).
Loop = Callable[[], bool]


def block_timer_signal() -> None:
    """Block the timer's signal in this thread and every thread it starts from now on."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {TIMER_SIGNAL})


class Leadership:
    def __init__(self, pool: WorkerPool, handoff_after: float = HANDOFF_AFTER):
        self._pool = pool
        self._handoff_after = handoff_after
        self._lock = threading.Lock()      # taking the lead over happens under it
        self._leader: Optional[int] = None  # thread ident; None while the lead is handed on
        self._inline_since: Optional[float] = None   # when the leader's inline job started
        self._loop: Optional[Loop] = None
        self._waiter = 0                   # the main thread, waiting in serve()
        self._ended = False
        self._failure: Optional[BaseException] = None
        self.takeovers = 0

    def serve(self, loop: Loop) -> None:
        """Run ``loop`` on a worker and hand it on whenever a leader's call is slow, until the
        loop ends (call from the main thread, with TIMER_SIGNAL blocked). What the loop raises
        is raised here."""
        self._loop = loop
        self._waiter = threading.get_ident()
        self._pool.submit(self._lead)
        while not self._ended:
            signal.sigwait({TIMER_SIGNAL})
            if not self._ended:
                self.timer_fired()
        if self._failure is not None:
            raise self._failure

    def leading(self) -> bool:
        """Whether the calling thread leads (runs the loop and owns the command socket)."""
        return self._leader == threading.get_ident()

    def run_inline(self, job: Job) -> None:
        """Run ``job`` now, on the leading thread, with the takeover timer armed."""
        with self._lock:
            self._inline_since = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self._handoff_after)
        try:
            job()
        except BaseException:  # as a worker does: a job that leaks an exception is a bug
            log.exception("unhandled error in a call run by the loop's thread")
        finally:
            with self._lock:
                # A thread that lost the lead leaves the timer alone: it is the new
                # leader's now, armed for the call that the new leader runs.
                if self._leader == threading.get_ident():
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    self._inline_since = None

    def timer_fired(self) -> bool:
        """The timer's signal arrived: if the leader's inline job still runs, hand the loop
        to a worker; True if so. A signal for a job that has just ended changes nothing. A
        stale one, for an earlier job, arrives while the running job is young: the timer is
        armed again for what that job has left, because SIGALRM does not queue: the job's
        own expiry may have merged into the stale signal while it was pending, and then
        no other signal would come."""
        with self._lock:
            since = self._inline_since
            if since is None:
                return False
            elapsed = time.monotonic() - since
            if elapsed < self._handoff_after / 2:
                signal.setitimer(signal.ITIMER_REAL, self._handoff_after - elapsed)
                return False
            self._inline_since = None
            self._leader = None      # the old leader sees it has lost the lead
            self.takeovers += 1
        log.debug("a call has held the loop's thread for %.1f ms; another thread runs the loop",
                  (time.monotonic() - since) * 1000)
        self._pool.submit(self._lead)
        return True

    def _lead(self) -> None:
        with self._lock:     # a lock handover: what the old leader did is visible here
            self._leader = threading.get_ident()
        assert self._loop is not None
        try:
            ended = self._loop()
        except BaseException as e:  # noqa: B902 - the main thread raises it (as before)
            self._failure, ended = e, True
        if ended:
            self._ended = True
            signal.pthread_kill(self._waiter, TIMER_SIGNAL)   # wakes serve()
