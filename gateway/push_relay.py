"""Delivering events to each connected client through a bounded queue.

python-socketio's ``emit`` never blocks: a client that reads slower than the project pushes
would grow the server's memory without limit. So every client gets its own queue, bounded at
``push_queue_size``; past the bound the oldest events are dropped and the client is told how
many, per event name, in ``robotctl:push_dropped``. Dropping is never silent.

One writer greenlet per client moves events from its queue into Engine.IO. While Engine.IO's
own queue for that client is short it just yields every RELAY_BATCH events; once it backs up
(a slow link), the writer waits on that queue's ``join()`` — an event, not a poll.
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Counter, Deque, Dict, List, Optional, Tuple

import eventlet
from eventlet.event import Event
import socketio

from shared import protocol

log = logging.getLogger(__name__)

RELAY_BATCH = 100
# Engine.IO packets queued for one client before the writer waits for them to be sent.
ENGINEIO_BACKLOG = 1000


class ClientQueue:
    def __init__(self, sio: socketio.Server, sid: str, bound: int):
        self._sio = sio
        self.sid = sid
        self._bound = bound
        self._events: Deque[Tuple[str, Any]] = collections.deque()
        self._dropped: Counter[str] = collections.Counter()
        self._wake = Event()
        self._closed = False
        self._writer = eventlet.spawn(self._write)

    def put(self, event: str, data: Any) -> None:
        if len(self._events) >= self._bound:
            dropped, _ = self._events.popleft()
            self._dropped[dropped] += 1
        self._events.append((event, data))
        if not self._wake.ready():
            self._wake.send()

    def flush(self) -> None:
        """Emit everything queued now, in order (before the client is disconnected)."""
        while self._events:
            event, data = self._events.popleft()
            self._sio.emit(event, data, to=self.sid)

    def close(self) -> None:
        self._closed = True
        if not self._wake.ready():
            self._wake.send()

    def _write(self) -> None:
        sent = 0
        while True:
            self._wake.wait()
            self._wake = Event()
            first = True
            while self._events and not self._closed:
                event, data = self._events.popleft()
                self._sio.emit(event, data, to=self.sid)
                sent += 1
                if first:
                    first = False
                    eventlet.sleep(0)    # the first event of a burst is written at once
                elif sent % RELAY_BATCH == 0:
                    self._report_drops()
                    self._backpressure()
            if self._closed:
                return
            self._report_drops()

    def _report_drops(self) -> None:
        if self._dropped:
            count = sum(self._dropped.values())
            log.warning("client %s is too slow: dropped %d events", self.sid, count)
            self._sio.emit(protocol.PUSH_DROPPED,
                           {"count": count, "by_event": dict(self._dropped)}, to=self.sid)
            self._dropped.clear()

    def _backpressure(self) -> None:
        queue = self._engineio_queue()
        if queue is None or queue.qsize() <= ENGINEIO_BACKLOG:
            eventlet.sleep(0)   # let the websocket writers run
            return
        # join() wakes when Engine.IO's writer has taken everything; while it stays backed
        # up (a stalled client) keep waiting rather than adding more. The timeout only lets
        # the loop notice a client that left, whose queue never drains.
        while queue.qsize() > ENGINEIO_BACKLOG and not self._closed:
            with eventlet.Timeout(1.0, False):
                queue.join()

    def _engineio_queue(self) -> Optional[Any]:
        try:
            eio_sid = self._sio.manager.eio_sid_from_sid(self.sid, "/")
            return self._sio.eio.sockets[eio_sid].queue
        except (KeyError, AttributeError):
            return None


class PushRelay:
    """Fans events out to every connected client's queue."""

    def __init__(self, sio: socketio.Server, bound: int):
        self._sio = sio
        self._bound = bound
        self._clients: Dict[str, ClientQueue] = {}

    def add(self, sid: str) -> ClientQueue:
        queue = self._clients[sid] = ClientQueue(self._sio, sid, self._bound)
        return queue

    def remove(self, sid: str) -> None:
        queue = self._clients.pop(sid, None)
        if queue is not None:
            queue.close()

    def sids(self) -> List[str]:
        return list(self._clients)

    def flush(self, sid: str) -> None:
        queue = self._clients.get(sid)
        if queue is not None:
            queue.flush()

    def send(self, sid: str, event: str, data: Any) -> None:
        """To one client, in order with its other events."""
        queue = self._clients.get(sid)
        if queue is not None:
            queue.put(event, data)

    def broadcast(self, event: str, data: Any, latest: bool = False, size: int = 0) -> None:
        """To every client; with none connected the event is dropped (documented).

        ``latest`` and ``size`` (bytes) come from the executor's Push message."""
        for queue in self._clients.values():
            queue.put(event, data)
