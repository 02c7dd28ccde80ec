"""Unit tests for executor.worker_pool: a job never waits for a free thread."""
from __future__ import annotations

import threading
import time

from executor.worker_pool import WorkerPool
from tests.appliance import wait_for


def pool_threads():
    return [t for t in threading.enumerate() if t.name.startswith("call-")]


def test_a_job_runs_at_once_while_others_block():
    pool = WorkerPool(max_idle=2)
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocker():
        started.release()
        release.wait(30)

    try:
        for _ in range(10):                 # more blockers than idle workers are kept
            pool.submit(blocker)
        for _ in range(10):
            assert started.acquire(timeout=10), "a blocking job did not start"
        quick = threading.Event()
        submitted = time.monotonic()
        pool.submit(quick.set)
        assert quick.wait(5), "the quick job waited for a blocked worker"
        assert time.monotonic() - submitted < 2.0
    finally:
        release.set()


def test_idle_workers_are_reused():
    pool = WorkerPool(max_idle=4)
    used = set()
    for _ in range(20):
        done = threading.Event()
        pool.submit(lambda: (used.add(threading.current_thread().name), done.set()))
        assert done.wait(5)
        # let the worker go back to idle before the next submit, as a slow client would
        wait_for(lambda: pool.idle_workers >= 1, 5, "the worker to become idle")
    assert len(used) == 1


def test_at_most_max_idle_workers_stay_after_a_burst():
    before = len(pool_threads())
    pool = WorkerPool(max_idle=3)
    release = threading.Event()
    for _ in range(12):
        pool.submit(lambda: release.wait(30))
    wait_for(lambda: len(pool_threads()) >= before + 12, 10, "12 workers")
    release.set()
    wait_for(lambda: len(pool_threads()) <= before + 3, 10, "surplus workers to end")


def test_a_job_that_raises_does_not_kill_its_worker():
    pool = WorkerPool(max_idle=1)

    def fail():
        raise RuntimeError("a bug in a job")

    pool.submit(fail)
    wait_for(lambda: pool.idle_workers == 1, 5, "the worker to survive and become idle")
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(5)
