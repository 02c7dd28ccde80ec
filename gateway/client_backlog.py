"""What the gateway holds for one client, bounded in bytes.

- System events (``robotctl:*``) wait in their own line, ahead of the data: a client never
  learns about a takeover or a restart behind seconds of camera frames.
- Data events wait in order. A *latest-value* event (``push_message(..., latest=True)``, or
  one thinned by the client's ``subscribe``) has at most one slot per event name: a newer
  value replaces the waiting one in place, so it goes out as early as the old one would have.
  A replaced value is not a drop.
- Beyond the budget, the oldest entries are dropped (data first, then system events) and
  counted per event name, for ``robotctl:push_dropped``.

No I/O here: sizes are what the caller says (the IPC message's size for pushes).
"""
from __future__ import annotations

import collections
from typing import Any, Counter, Deque, Dict, Optional

from shared import protocol


class Entry:
    __slots__ = ("event", "data", "size", "latest")

    def __init__(self, event: str, data: Any, size: int, latest: bool):
        self.event, self.data, self.size, self.latest = event, data, size, latest


class Backlog:
    def __init__(self) -> None:
        self.system: Deque[Entry] = collections.deque()
        self.data: Deque[Entry] = collections.deque()
        self._slots: Dict[str, Entry] = {}      # latest-value entries waiting, by event
        self.bytes = 0
        self.dropped: Counter[str] = collections.Counter()

    def __bool__(self) -> bool:
        return bool(self.system or self.data)

    def add(self, event: str, data: Any, size: int, latest: bool, budget: int) -> None:
        """Queue an event, then drop the oldest entries while more than ``budget`` bytes wait."""
        slot = self._slots.get(event) if latest else None
        if slot is not None:
            self.bytes += size - slot.size
            slot.data, slot.size = data, size
        else:
            entry = Entry(event, data, size, latest)
            if event.startswith(protocol.SYSTEM_PREFIX):
                self.system.append(entry)
            else:
                self.data.append(entry)
                if latest:
                    self._slots[event] = entry
            self.bytes += size
        self.trim(budget)

    def trim(self, budget: int) -> None:
        while self.bytes > budget and self:
            self._count_drop(self._pop(self.data or self.system))

    def pop_system(self) -> Optional[Entry]:
        return self._pop(self.system) if self.system else None

    def pop_data(self) -> Optional[Entry]:
        return self._pop(self.data) if self.data else None

    def _pop(self, line: Deque[Entry]) -> Entry:
        entry = line.popleft()
        self.bytes -= entry.size
        if entry.latest and self._slots.get(entry.event) is entry:
            del self._slots[entry.event]
        return entry

    def _count_drop(self, entry: Entry) -> None:
        self.dropped[entry.event] += 1

    def take_drop_report(self) -> Optional[Dict[str, Any]]:
        """``robotctl:push_dropped``'s payload for the drops since the last report, if any."""
        if not self.dropped:
            return None
        report = {"count": sum(self.dropped.values()), "by_event": dict(self.dropped)}
        self.dropped.clear()
        return report

    def clear(self) -> None:
        self.system.clear()
        self.data.clear()
        self._slots.clear()
        self.bytes = 0
