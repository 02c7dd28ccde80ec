"""A thread pool that never makes a call wait for a free thread.

A slow call (a 3 s motion) must not delay a quick one (an emergency stop) sent while it runs,
so a new worker starts whenever no idle one is ready. The pool keeps at most ``max_idle``
idle workers, each blocked on its own lock (no polling). A job wakes exactly one of them,
the one that went idle last: with one queue shared by all idle workers, CPython's
SimpleQueue wakes a second waiter after every get, which finds nothing and sleeps again,
and the two fight over the GIL (two context switches per call for nothing).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, List, Optional

log = logging.getLogger(__name__)

Job = Callable[[], object]      # its result is ignored


class _Worker:
    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()            # held while idle: submit releases it to hand a job
        self.job: Optional[Job] = None


class WorkerPool:
    def __init__(self, max_idle: int = 8):
        self._lock = threading.Lock()
        self._idle: List[_Worker] = []     # a stack: the most recently idle worker is reused
        self._max_idle = max_idle
        self._count = 0

    @property
    def idle_workers(self) -> int:
        return len(self._idle)

    def submit(self, job: Job) -> None:
        """Run ``job()`` on a worker thread now. ``job`` must handle its own exceptions."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._count += 1
                name = "call-%d" % self._count
        if worker is None:
            threading.Thread(target=self._work, args=(_Worker(), job), name=name,
                             daemon=True).start()
        else:
            worker.job = job
            worker.wake.release()

    def _work(self, worker: _Worker, job: Job) -> None:
        while True:
            try:
                job()
            except BaseException:  # a job that leaks an exception must not kill the worker
                log.exception("unhandled error in a worker job")
            with self._lock:
                if len(self._idle) >= self._max_idle:
                    return
                self._idle.append(worker)
            worker.wake.acquire()
            job, worker.job = worker.job, None   # type: ignore[assignment]
