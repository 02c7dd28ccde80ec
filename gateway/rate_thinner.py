"""Per-client event rates (``subscribe {rates: {"camera": 5}}``).

An event with a rate goes to the client at most ``rate`` times per second. Between two
deliveries only its newest value waits (latest-value semantics: a replaced value is not a
drop), and a timer delivers it when its turn comes: no polling. Events without a rate pass
straight through.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Tuple

import eventlet

Deliver = Callable[[str, Any, int], None]     # (event, data, size)


class RateThinner:
    def __init__(self, deliver: Deliver):
        self._deliver = deliver
        self.rates: Dict[str, float] = {}
        self._next: Dict[str, float] = {}              # monotonic time of the next delivery
        self._waiting: Dict[str, Tuple[Any, int]] = {}  # the newest value held back
        self._timers: Dict[str, Any] = {}

    @property
    def held_bytes(self) -> int:
        return sum(size for _, size in self._waiting.values())

    def set_rates(self, rates: Dict[str, Optional[float]]) -> Dict[str, float]:
        """Replace the rates of the events named; None (or 0) is full rate. Returns all."""
        for event, rate in rates.items():
            if rate:
                self.rates[event] = float(rate)
            else:
                self.rates.pop(event, None)
                self._next.pop(event, None)
                self._release(event)
        return dict(self.rates)

    def offer(self, event: str, data: Any, size: int) -> bool:
        """True if the event may go now; False if it is held back for its turn."""
        rate = self.rates.get(event)
        if rate is None:
            return True
        now = time.monotonic()
        due = self._next.get(event, 0.0)
        if now >= due and event not in self._waiting:
            self._next[event] = now + 1.0 / rate
            return True
        self._waiting[event] = (data, size)
        if event not in self._timers:
            self._timers[event] = eventlet.spawn_after(max(0.0, due - now), self._turn, event)
        return False

    def _turn(self, event: str) -> None:
        self._timers.pop(event, None)
        rate = self.rates.get(event)
        if rate is not None and event in self._waiting:
            self._next[event] = time.monotonic() + 1.0 / rate
        self._release(event)

    def _release(self, event: str) -> None:
        timer = self._timers.pop(event, None)
        if timer is not None:
            timer.cancel()
        waiting = self._waiting.pop(event, None)
        if waiting is not None:
            self._deliver(event, waiting[0], waiting[1])

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._waiting.clear()
