"""Delivering events to each connected client within its budget, control first.

python-socketio's ``emit`` never blocks, and Engine.IO holds every packet for a client in one
queue, in order: emitted freely, a slow client's frames would grow the server's memory and
its PINGs and acks would wait behind seconds of data. So each client gets a ClientQueue:

- what waits for the client is held here (client_backlog): bounded by
  ``gateway.client_buffer_bytes`` together with Engine.IO's queue for it; latest-value events
  keep one value each; beyond the budget the oldest are dropped and reported in
  ``robotctl:push_dropped``;
- one writer greenlet hands data to Engine.IO only while Engine.IO holds less than
  HANDOFF_BYTES for the client (about one frame; writer_queue says when its writer has
  written a batch), so an ack or a PING emitted meanwhile waits behind at most that;
  system events are handed over ahead of any waiting data. On a fast link (loopback, a LAN)
  the allowance is the client's kernel send buffer instead, ~25 ms of the link's measured
  rate (send_buffer): a handoff per frame would cost more switches than the frame's write,
  and an ack still waits (~75 ms of data with the kernel's share) about as long as behind
  one frame on a slow link;
- each event is encoded once, for every client (push_packets: a push's data is the
  executor's JSON as it came), and the writer hands those Engine.IO packets over as they are;
- the client's ``subscribe`` rates thin its events (rate_thinner);
- a client whose connection takes nothing of what waits for it for ``gateway.stall_timeout``
  seconds is disconnected (its TCP connection is cut, so a controller's stop hooks run as for
  any client that leaves). A timer checks, armed only while data waits.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional

import eventlet
from eventlet.event import Event
import socketio

from gateway import client_sockets, writer_queue
from gateway.client_backlog import Backlog
from gateway.push_packets import Encoded, PacketEncoder
from gateway.rate_thinner import RateThinner
from gateway.send_buffer import SendBufferSizer
from shared import protocol

log = logging.getLogger(__name__)

# Data handed to Engine.IO for one client while its writer has less than this to write; on a
# fast link, as much as its kernel send buffer (send_buffer: ~25 ms of its measured rate).
HANDOFF_BYTES = 64 * 1024
# Drops are reported when the client's backlog empties, and at least this often meanwhile.
DROP_REPORT_INTERVAL = 1.0


class ClientQueue:
    def __init__(self, sio: socketio.Server, encoder: PacketEncoder, sid: str, address: str,
                 connection: Any, budget: int, stall_timeout: float,
                 on_stalled: Callable[[str], None]):
        self._sio, self.sid, self.address = sio, sid, address
        self._encoder, self._socket = encoder, encoder.socket_of(sid)
        self._connection = connection        # the TCP socket, when known
        self._send_buffer = SendBufferSizer(connection)
        self._budget, self._stall_timeout, self._on_stalled = budget, stall_timeout, on_stalled
        self.backlog = Backlog()
        self.thinner = RateThinner(self._put_thinned)
        self._engineio = self._find_engineio_queue()
        if self._engineio is not None:
            self._engineio.on_idle = self._engineio_idle
        self._wake = Event()
        self._closed = False
        self._progress_at = self._stall_from = time.monotonic()
        self._stall_timer: Any = None
        self._reported_at = 0.0
        self._writer = eventlet.spawn(self._write)

    # -- what comes in ----------------------------------------------------------------------

    def put(self, event: str, data: Any, size: int = 0, latest: bool = False) -> None:
        """Queue an event for this client: its data, or that already encoded
        (PacketEncoder.encode: the same for every client). Never sends here: the writer
        greenlet does."""
        if self._closed:
            return
        if not isinstance(data, Encoded):
            data = self._encoder.encode(event, data)
            if data is None:
                return
        size = size or data.size
        if not self.thinner.offer(event, data, size):
            self._check_budget()     # held back for its turn; it counts against the budget
            return
        self._add(event, data, size, latest)

    def _put_thinned(self, event: str, data: Any, size: int) -> None:
        self._add(event, data, size, True)

    def _add(self, event: str, data: Any, size: int, latest: bool) -> None:
        self.backlog.add(event, data, size, latest, self._room())
        if not self._wake.ready():
            self._wake.send()

    def _room(self) -> int:
        """Bytes the backlog may hold: the budget less what Engine.IO and the thinner hold."""
        return self._budget - self.engineio_bytes() - self.thinner.held_bytes

    def _check_budget(self) -> None:
        self.backlog.trim(self._room())

    def subscribe(self, rates: Dict[str, Optional[float]]) -> Dict[str, float]:
        return self.thinner.set_rates(rates)

    # -- the writer -------------------------------------------------------------------------

    def _write(self) -> None:
        while True:
            self._wake.wait()
            self._wake = Event()
            if self._closed:
                return
            self._hand_over()

    def _hand_over(self) -> None:
        """Give Engine.IO the system events, a drop report if due, then data up to
        HANDOFF_BYTES; arm the stall timer if something is left waiting."""
        while self.backlog.system and self._engineio_queued() < HANDOFF_BYTES:
            self._emit(self.backlog.pop_system())
        self._report_drops()
        # (at most a quarter of the budget, so that what Engine.IO holds never crowds it out)
        allowance = max(HANDOFF_BYTES, min(self._send_buffer.size, self._budget // 4))
        while self.backlog.data and self.engineio_bytes() < allowance:
            self._emit(self.backlog.pop_data())
        self._watch_stall()

    def _emit(self, entry: Any) -> None:
        self._encoder.send(self.sid, self._socket, entry.event, entry.data)

    def _report_drops(self) -> None:
        now = time.monotonic()
        if not self.backlog.dropped or (
                self.backlog.data and now - self._reported_at < DROP_REPORT_INTERVAL):
            return
        report = self.backlog.take_drop_report()
        assert report is not None       # something was dropped (checked above)
        self._reported_at = now
        log.warning("client %s is too slow: dropped %d events", self.address, report["count"])
        encoded = self._encoder.encode(protocol.PUSH_DROPPED, report)
        if encoded is not None:
            self._encoder.send(self.sid, self._socket, protocol.PUSH_DROPPED, encoded)

    def _engineio_idle(self, progressed: bool) -> None:
        """Engine.IO's writer has written what it took (called in its greenlet)."""
        if progressed:
            self._progress_at = time.monotonic()
            self._send_buffer.update()
        if (self.backlog or self.backlog.dropped) and not self._wake.ready():
            self._wake.send()

    def flush(self) -> None:
        """Hand the system events over now (before the client is disconnected)."""
        entry = self.backlog.pop_system()
        while entry is not None:
            self._emit(entry)
            entry = self.backlog.pop_system()

    # -- Engine.IO's queue -------------------------------------------------------------------

    def _find_engineio_queue(self) -> Optional[writer_queue.WriterQueue]:
        try:
            eio_sid = self._sio.manager.eio_sid_from_sid(self.sid, "/")
            found = self._sio.eio.sockets[eio_sid].queue
        except (KeyError, AttributeError):
            return None
        return found if isinstance(found, writer_queue.WriterQueue) else None

    def engineio_bytes(self) -> int:
        return self._engineio.held_bytes if self._engineio is not None else 0

    def _engineio_queued(self) -> int:
        return self._engineio.queued_bytes if self._engineio is not None else 0

    # -- stalls ---------------------------------------------------------------------------

    def _data_waits(self) -> bool:
        return bool(self.backlog) or self.engineio_bytes() > 0

    def _watch_stall(self) -> None:
        if self._stall_timer is None and self._data_waits() and not self._closed:
            self._stall_from = time.monotonic()
            self._stall_timer = eventlet.spawn_after(self._stall_timeout, self._check_stall)

    def _check_stall(self) -> None:
        self._stall_timer = None
        if self._closed or not self._data_waits():
            return
        quiet_since = max(self._progress_at, self._stall_from)
        left = quiet_since + self._stall_timeout - time.monotonic()
        if left > 0:
            self._stall_timer = eventlet.spawn_after(left, self._check_stall)
            return
        log.warning("client %s (sid %s) took nothing of the %d bytes waiting for it in %g s "
                    "(gateway.stall_timeout); disconnecting it", self.address, self.sid,
                    self.held_bytes(), self._stall_timeout)
        self._on_stalled(self.sid)

    def cut_connection(self) -> bool:
        return client_sockets.cut(self._connection)

    # -- accounting -------------------------------------------------------------------------

    def held_bytes(self) -> int:
        return self.backlog.bytes + self.thinner.held_bytes + self.engineio_bytes()

    def stats(self) -> Dict[str, Any]:
        kernel = client_sockets.kernel_queue(self._connection)
        return {"address": self.address, "held_bytes": self.held_bytes(),
                "kernel_bytes": kernel[0] if kernel else None,
                "kernel_unsent_bytes": kernel[1] if kernel else None,
                "rates": dict(self.thinner.rates)}

    def close(self) -> None:
        self._closed = True
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        self.thinner.close()
        self.backlog.clear()
        if self._engineio is not None:
            self._engineio.on_idle = writer_queue._nothing
        if not self._wake.ready():
            self._wake.send()


class PushRelay:
    """Fans events out to every connected client's queue."""

    def __init__(self, sio: socketio.Server, budget: int, stall_timeout: float):
        self._sio = sio
        self._budget, self._stall_timeout = budget, stall_timeout
        self._clients: Dict[str, ClientQueue] = {}
        writer_queue.install(sio.eio)
        self._encoder = PacketEncoder(sio)

    def add(self, sid: str, address: str = "?", connection: Any = None) -> ClientQueue:
        queue = self._clients[sid] = ClientQueue(
            self._sio, self._encoder, sid, address, connection, self._budget, self._stall_timeout,
            self._disconnect_stalled)
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

    def subscribe(self, sid: str, rates: Dict[str, Optional[float]]) -> Dict[str, float]:
        """Set ``sid``'s rates for the events named; return its effective rates."""
        queue = self._clients.get(sid)
        return queue.subscribe(rates) if queue is not None else {}

    def stats(self) -> List[Dict[str, Any]]:
        return [queue.stats() for queue in self._clients.values()]

    def broadcast(self, event: str, data: Any, latest: bool = False, size: int = 0) -> None:
        """To every client; with none connected the event is dropped (documented).

        ``latest`` and ``size`` (bytes) come from the executor's Push message; ``data`` may
        be its EncodedValue. Encoded once, here, for every client."""
        if not self._clients:
            return
        encoded = self._encoder.encode(event, data)
        if encoded is None:
            return
        for queue in self._clients.values():
            queue.put(event, encoded, size, latest)

    def _disconnect_stalled(self, sid: str) -> None:
        queue = self._clients.get(sid)
        if queue is None:
            return
        # Cutting the TCP connection ends the session the way a vanished client's does (the
        # disconnect handler runs); without a socket (long-polling), ask Socket.IO, which
        # waits for the client's queue to drain, so not forever.
        if not queue.cut_connection():
            with eventlet.Timeout(1.0, False):
                self._sio.disconnect(sid)
