"""The failed-token lockout with an injected clock and scheduler (no waiting)."""
from __future__ import annotations

import logging
from typing import Callable, List, Tuple

from gateway.access_throttle import LIMIT, PERIOD, AccessThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: List[Tuple[float, Callable[[], None]]] = []

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay, callback) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, callback in due:
            callback()


def test_defaults_are_ten_failures_in_sixty_seconds():
    assert (LIMIT, PERIOD) == (10, 60.0)


def test_lockout_starts_at_the_limit_and_ends_after_the_period(caplog):
    clock = Clock()
    throttle = AccessThrottle(clock.schedule, clock=clock)
    caplog.set_level(logging.WARNING)
    for _ in range(9):
        throttle.failed("10.0.0.7")
        clock.advance(5)
    assert not throttle.locked_out("10.0.0.7")
    throttle.failed("10.0.0.7")
    assert [r.getMessage() for r in caplog.records] == [
        "locking out 10.0.0.7 for 60 s: 10 failed tokens within 60 s"]
    for _ in range(3):
        assert throttle.locked_out("10.0.0.7")
    assert not throttle.locked_out("10.0.0.8")
    clock.advance(60)
    assert not throttle.locked_out("10.0.0.7")
    assert caplog.records[-1].getMessage() == \
        "lockout of 10.0.0.7 ended; 3 connection(s) refused during it"


def test_failures_spread_beyond_the_period_never_lock_out():
    clock = Clock()
    throttle = AccessThrottle(clock.schedule, limit=3, period=10, clock=clock)
    for _ in range(10):
        throttle.failed("10.0.0.7")
        clock.advance(6)
    assert not throttle.locked_out("10.0.0.7")


def test_a_success_clears_the_count_and_old_addresses_are_forgotten():
    clock = Clock()
    throttle = AccessThrottle(clock.schedule, limit=3, period=10, clock=clock)
    throttle.failed("a")
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert not throttle.locked_out("a")
    throttle.failed("b")
    clock.advance(11)
    throttle.failed("c")
    assert list(throttle._failures) == ["c"]
