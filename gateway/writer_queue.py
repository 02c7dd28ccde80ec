"""Engine.IO's per-client packet queue, made to tell the push relay what it holds.

python-engineio keeps one queue of packets per client, and its writer (``Socket.poll`` and
the websocket writer) takes them in batches: one blocking ``get``, non-blocking ``get``s
until the queue is empty, then it writes the batch, then it blocks again. Every emit, every
ack and Engine.IO's own PING go through this one queue, in order. So the relay keeps it short
(about one data packet) and holds the rest itself: what the relay has not handed over can
still be replaced, thinned, dropped, and control packets overtake it.

A blocking ``get`` therefore means that everything taken before has been written: that is
when the relay may hand over more, and it is the client's progress. Both generations of
python-engineio (bookworm's 4.3.4 and current) create the queue through the server's
``create_queue``, which ``install`` points at this class.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

from eventlet import queue

from gateway import websocket_batch, websocket_send


def packet_size(pkt: Any) -> int:
    """Bytes of an Engine.IO packet's payload (a text or binary message; 0 for others)."""
    data = getattr(pkt, "data", None)
    return len(data) if isinstance(data, (str, bytes, bytearray, memoryview)) else 0


_batching = False


def _nothing(progressed: bool) -> None:
    pass


class WriterQueue(queue.Queue):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued_bytes = 0        # put, not yet taken by the writer
        self.writing_bytes = 0       # taken by the writer, being written
        # Called (in the writer's greenlet) when it comes back for more; ``progressed`` says
        # it wrote something since the last time. Must not block.
        self.on_idle: Callable[[bool], None] = _nothing

    @property
    def held_bytes(self) -> int:
        return self.queued_bytes + self.writing_bytes

    def put(self, item: Any, block: bool = True, timeout: Any = None) -> None:
        self.queued_bytes += packet_size(item)
        super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: Any = None) -> Any:
        if block:
            # The websocket writer (``writer`` in Socket._websocket_handler, through
            # Socket.poll) has framed the batch it took: write it (websocket_batch). Callers
            # that write no websocket frames (a long-polling request) are left out.
            if _batching and sys._getframe(2).f_code.co_name == "writer":
                websocket_batch.flush_current()
            progressed, self.writing_bytes = self.writing_bytes > 0, 0
            self.on_idle(progressed)
        item = super().get(block, timeout)
        size = packet_size(item)
        self.queued_bytes -= size
        self.writing_bytes += size
        return item


def install(eio_server: Any) -> None:
    """Make ``eio_server`` (an engineio.Server in eventlet mode) give each client a
    WriterQueue. Must run before the first client connects. Its websocket writers batch
    their writes (websocket_batch) if python-engineio's writer is the one this module knows
    and websocket_send's ``send`` is in place."""
    global _batching
    eio_server.create_queue = WriterQueue
    _batching = websocket_send.installed() and websocket_batch.writer_is_known()
