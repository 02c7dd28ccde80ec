"""Failed-token throttling: after ``limit`` failed tokens from one address within ``period``
seconds, that address is refused for ``period`` seconds without its token being checked.

The lockout is logged once when it starts and once when it ends (with the number of
connections refused during it), never once per refusal. Memory is bounded by age: an
address's failures are forgotten ``period`` seconds after the last one.
"""
from __future__ import annotations

import collections
import logging
import time
from typing import Callable, Deque, Dict

log = logging.getLogger(__name__)

LIMIT = 10          # failed tokens ...
PERIOD = 60.0       # ... within this many seconds lock the address out for as long

Schedule = Callable[[float, Callable[[], None]], object]


class AccessThrottle:
    def __init__(self, schedule: Schedule, limit: int = LIMIT, period: float = PERIOD,
                 clock: Callable[[], float] = time.monotonic):
        self._schedule, self.limit, self.period, self._clock = schedule, limit, period, clock
        # address -> times of its recent failures, oldest address first
        self._failures: "collections.OrderedDict[str, Deque[float]]" = collections.OrderedDict()
        self._locked: Dict[str, int] = {}       # address -> connections refused while locked

    def locked_out(self, address: str) -> bool:
        """Whether ``address`` is locked out now; counts the refusal if it is."""
        if address not in self._locked:
            return False
        self._locked[address] += 1
        return True

    def failed(self, address: str) -> None:
        """Record a failed token from ``address``; start its lockout at the limit."""
        now = self._clock()
        self._forget_before(now - self.period)
        times = self._failures.pop(address, None) or collections.deque(maxlen=self.limit)
        times.append(now)
        self._failures[address] = times
        if len(times) >= self.limit and times[0] >= now - self.period:
            del self._failures[address]
            self._locked[address] = 0
            log.warning("locking out %s for %g s: %d failed tokens within %g s",
                        address, self.period, self.limit, self.period)
            self._schedule(self.period, lambda: self._unlock(address))

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _unlock(self, address: str) -> None:
        refused = self._locked.pop(address, 0)
        log.warning("lockout of %s ended; %d connection(s) refused during it", address, refused)

    def _forget_before(self, oldest: float) -> None:
        while self._failures:
            address, times = next(iter(self._failures.items()))
            if times[-1] >= oldest:
                return
            del self._failures[address]
