"""A thread pool that never makes a call wait for a free thread.

A slow call (a 3 s motion) must not delay a quick one (an emergency stop) sent while it runs,
so a new worker starts whenever no idle one is ready. Idle workers block in a queue (no
polling) and the pool keeps at most ``max_idle`` of them.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, max_idle: int = 8):
        self._jobs: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._max_idle = max_idle
        self._count = 0

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job()`` on a worker thread now. ``job`` must handle its own exceptions."""
        with self._lock:
            if self._idle:
                self._idle -= 1      # reserve the idle worker that will take this job
            else:
                self._count += 1
                threading.Thread(target=self._work, name="call-%d" % self._count,
                                 daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException:  # a job that leaks an exception must not kill the worker
                log.exception("unhandled error in a worker job")
            with self._lock:
                if self._idle >= self._max_idle:
                    return
                self._idle += 1
