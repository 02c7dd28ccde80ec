"""The takeover logic of executor.leadership, driven directly with a tiny HANDOFF_AFTER and
the real timer: exactly one thread runs the loop at a time, whenever the timer fires."""
from __future__ import annotations

import functools
import random
import signal
import threading
import time
from collections import Counter
from typing import Callable, Iterator, List, Optional, Set

import pytest

from executor.leadership import TIMER_SIGNAL, Leadership, block_timer_signal
from executor.worker_pool import WorkerPool
from tests.appliance import wait_for

TINY = 0.0002


@pytest.fixture
def timer_signal() -> Iterator[None]:
    """SIGALRM blocked in this (the main) thread and the threads it starts, as the executor
    has it; afterwards no timer is left armed and a pending signal does no harm."""
    handler = signal.signal(TIMER_SIGNAL, lambda *_: None)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    block_timer_signal()
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(TIMER_SIGNAL, handler)


class Terms:
    """The loop's terms in the order they took jobs: a thread that lost the loop must never
    take another job, so the sequence never goes back to an earlier term."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = 0
        self.taken: List[int] = []

    def begin(self) -> int:
        with self._lock:
            self._started += 1
            return self._started

    def take(self, term: int, pending: Iterator[int]) -> Optional[int]:
        with self._lock:
            index = next(pending, None)
            if index is not None:
                self.taken.append(term)
            return index

    @property
    def in_order(self) -> bool:
        return self.taken == sorted(self.taken)


def serve_jobs(leadership: Leadership, jobs: List, run: Callable[[int], None]) -> Terms:
    """Serve ``jobs`` (a shared queue, as the command socket is) with the leadership's loop,
    running each inline with ``run(index)``; returns when all were taken."""
    terms = Terms()
    pending = iter(range(len(jobs)))

    def loop() -> bool:
        term = terms.begin()
        while True:
            index = terms.take(term, pending)
            if index is None:
                return True
            leadership.run_inline(functools.partial(run, index))
            if not leadership.leading():
                return False     # another thread took the loop over: touch nothing more

    leadership.serve(loop)
    return terms


def test_the_timer_firing_as_calls_end_never_makes_two_leaders(timer_signal):
    leadership = Leadership(WorkerPool(), handoff_after=TINY)
    rng = random.Random(12)
    # Around the handoff time, so the timer often fires just as a call ends; some compute
    # holding the GIL, some sleep without it.
    durations = [rng.choice([0, TINY / 2, TINY, TINY * 1.5, TINY * 3]) for _ in range(3000)]
    ran: Counter = Counter()
    started: Set[int] = set()

    def run(index: int) -> None:
        started.add(index)
        until = time.monotonic() + durations[index]
        if index % 500 == 250:     # surely slow: runs until the loop has moved on
            wait_for(lambda: index + 1 in started, 30, "the loop to take the next call")
        elif index % 2:
            time.sleep(durations[index])
        while time.monotonic() < until:
            pass
        ran[index] += 1

    terms = serve_jobs(leadership, durations, run)
    # The loop may end while a call it lost the loop to still runs (as the executor's exit).
    wait_for(lambda: sum(ran.values()) == len(durations), 30, "the calls that lost the loop")
    assert terms.in_order
    assert sorted(ran) == list(range(len(durations))) and set(ran.values()) == {1}
    assert leadership.takeovers >= len(durations) // 500


def test_a_call_that_outlasts_the_handoff_loses_the_loop_and_later_calls_go_on(timer_signal):
    leadership = Leadership(WorkerPool(), handoff_after=TINY)
    threads: List[str] = []
    took_over = threading.Event()

    def run(index: int) -> None:
        threads.append(threading.current_thread().name)
        if index == 0:     # the slow call: holds its thread until the loop has moved on
            assert took_over.wait(30) or leadership.takeovers > 0
        if index == 1:
            took_over.set()

    terms = serve_jobs(leadership, [0, 1, 2], run)
    assert terms.in_order and leadership.takeovers >= 1
    assert threads[0] != threads[1], "the loop's next call ran on the slow call's thread"


def test_a_stale_signal_that_swallowed_the_calls_own_still_hands_the_loop_on(timer_signal):
    """SIGALRM does not queue: when a call's timer expires while the signal of an earlier
    call is still pending, the main thread takes one signal, early in the call's life.
    Simulated deterministically: the call disarms its own timer (its expiry merged away)
    and the early signal is taken at once; the loop must still move on."""
    leadership = Leadership(WorkerPool(), handoff_after=0.02)
    started: Set[int] = set()

    def run(index: int) -> None:
        started.add(index)
        if index == 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert leadership.timer_fired() is False     # too early for this call: stale
            wait_for(lambda: 1 in started, 10, "the loop to take the next call")

    terms = serve_jobs(leadership, [0, 1], run)
    wait_for(lambda: started == {0, 1}, 10, "both calls")
    assert terms.in_order and leadership.takeovers == 1


def test_a_signal_without_a_running_call_changes_nothing(timer_signal):
    leadership = Leadership(WorkerPool(), handoff_after=TINY)
    assert leadership.timer_fired() is False      # no call runs: a stale signal
    fired = []
    leadership.serve(lambda: fired.append(leadership.timer_fired()) or True)
    assert fired == [False] and leadership.takeovers == 0


def test_what_the_loop_raises_is_raised_by_serve(timer_signal):
    def loop() -> bool:
        raise RuntimeError("a bug in the loop")
    with pytest.raises(RuntimeError, match="a bug in the loop"):
        Leadership(WorkerPool()).serve(loop)
