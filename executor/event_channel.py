"""The executor's side of the callback channel: replies and pushes to the gateway.

One PUSH socket serves every thread (worker threads replying, user threads pushing); a lock
makes that safe, since ZeroMQ sockets must not be used by two threads at once. PUSH blocks
instead of dropping at its high-water mark; if the gateway stays away that long, the message
is dropped with a log line rather than blocking the robot's threads forever.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, List

import zmq

from shared import messages, protocol

log = logging.getLogger(__name__)

SEND_TIMEOUT_MS = 1000


class EventChannel:
    def __init__(self, sock: zmq.Socket):
        self._sock = sock
        self._lock = threading.Lock()
        self.dropped = 0

    def send(self, frames: List[bytes]) -> bool:
        """Send one message; False (and a log line) if the gateway did not take it in time."""
        with self._lock:
            try:
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                return True
            except zmq.Again:
                pass
            if self._sock.poll(SEND_TIMEOUT_MS, zmq.POLLOUT):
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                return True
            self.dropped += 1
        log.warning("the gateway is not reading events; dropped one (%d so far)", self.dropped)
        return False

    def reply(self, request_id: int, status: str, message: str, data: Any = None) -> None:
        """Send the reply to request ``request_id``; data that JSON cannot carry becomes an error."""
        try:
            frames = messages.Reply(request_id, status, message, data).to_frames()
        except (TypeError, ValueError) as e:
            text = "the return value cannot be sent as JSON: %s" % _json_problem(e, data)
            frames = messages.Reply(request_id, protocol.ERROR, text, None).to_frames()
        self.send(frames)

    def push(self, event: str, data: Any = None, latest: bool = False) -> None:
        """``push_message`` as the project sees it. Raises ValueError/TypeError for a reserved
        name or data JSON cannot carry, in the caller's thread. ``latest``: only the newest
        value of this event matters to a client that cannot keep up."""
        protocol.check_push_event(event)
        try:
            frames = messages.Push(event, data, bool(latest)).to_frames()
        except (TypeError, ValueError) as e:
            raise TypeError("push_message(%r): data cannot be sent as JSON: %s"
                            % (event, _json_problem(e, data))) from None
        self.send(frames)

    def system_push(self, event: str, data: Any) -> None:
        """An event of the executor itself (``robotctl:`` names), which push_message refuses."""
        self.send(messages.Push(event, data).to_frames())


def _json_problem(error: Exception, data: Any) -> str:
    if isinstance(error, ValueError):
        return "%s (NaN and infinity have no JSON form)" % error
    return "%s (top-level value is of type %s)" % (error, type(data).__name__)
