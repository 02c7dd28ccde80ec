"""Reading a plain ZeroMQ socket from eventlet's hub itself.

A green socket needs a greenlet blocked in ``recv``, and every message then costs a hub
wake-up plus two greenlet switches. For the callback channel (every reply and every push)
the hub calls ``drain`` directly when the socket's fd signals, and ``drain`` handles what has
arrived, RELAY_BATCH messages or RELAY_BATCH_BYTES at a time, whichever comes first. ZeroMQ's
fd is edge-like: it will not signal again for messages already queued, so a full batch
schedules the next drain itself, after the other greenlets (the websocket writers) have had
their turn. The byte bound matters for large pushes: a batch of 100 camera frames is 10 MB,
copied and queued (or dropped from a full budget) for several milliseconds during which no
websocket writer runs and no ack goes out; RELAY_BATCH_BYTES bounds that.
Frames after the first of at least ZERO_COPY_BYTES (a camera frame's attachment) are
received without a copy, as memoryviews of ZeroMQ's own buffer (kept alive by the view):
the relay hands that view to every client's websocket (gateway/push_packets). Receiving
never starts pyzmq's garbage-collection thread; only zero-copy sends do.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List

import eventlet.hubs
import zmq

from shared import messages

log = logging.getLogger(__name__)

RELAY_BATCH = 100
RELAY_BATCH_BYTES = 256 * 1024
ZERO_COPY_BYTES = 64 * 1024


class HubReader:
    def __init__(self, sock: zmq.Socket[bytes], handle: Callable[[List[bytes]], None],
                 batch: int = RELAY_BATCH):
        self._sock, self._handle, self._batch = sock, handle, batch
        self._hub = eventlet.hubs.get_hub()
        self._scheduled = False
        self._listener = self._hub.add(self._hub.READ, sock.getsockopt(zmq.FD),
                                       lambda fd: self.drain(), lambda exc: None, lambda: None)
        # What arrived before the listener existed will not make the fd signal again.
        self._schedule()

    def drain(self) -> None:
        """Handle up to one batch of what has arrived; never blocks."""
        if self._receive(self._batch):
            self._schedule()

    def drain_all(self) -> None:
        """Handle everything that has arrived, now."""
        while self._receive(self._batch):
            pass

    def _receive(self, limit: int) -> bool:
        """Handle up to ``limit`` messages or RELAY_BATCH_BYTES; True if there may be more."""
        taken = 0
        for _ in range(limit):
            if taken >= RELAY_BATCH_BYTES:
                break
            try:
                frames = self._receive_message()
            except zmq.Again:
                return False
            taken += messages.frames_size(frames)
            try:
                self._handle(frames)
            except Exception:    # runs in the hub: an error must not stop the reading
                log.exception("error handling a message")
        return True

    def _receive_message(self) -> List[bytes]:
        """One message: small frames as bytes, large ones after the first as memoryviews."""
        sock = self._sock
        frames: List[Any] = [sock.recv(zmq.NOBLOCK)]    # (memoryviews stand in for bytes)
        while sock.getsockopt(zmq.RCVMORE):
            frame = sock.recv(zmq.NOBLOCK, copy=False)
            frames.append(frame.buffer if len(frame) >= ZERO_COPY_BYTES else frame.bytes)
        return frames

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._hub.schedule_call_global(0, self._continue)

    def _continue(self) -> None:
        self._scheduled = False
        self.drain()

    def close(self) -> None:
        self._hub.remove(self._listener)
