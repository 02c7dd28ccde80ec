"""The executor's side of the callback channel: replies and pushes to the gateway.

One PUSH socket serves every thread (worker threads replying, user threads pushing); a lock
makes that safe, since ZeroMQ sockets must not be used by two threads at once; the socket is
closed under the same lock, and what is sent after that is dropped with a log line.

A push never waits: a robot's control loop must not stall because the gateway is away or
not reading. While no gateway is connected pushes are dropped and counted, and so are pushes
that would take the bytes sent and not yet read by the gateway past
``executor.event_buffer_bytes`` (send_credit; replies count but are never held back by it),
and pushes the socket cannot take at once (its high-water mark, a count: the backstop for
floods of tiny messages). The count reaches the clients as ``robotctl:push_dropped {count,
by_event}`` when a gateway is back, when it reports having read more (Consumed), or before
the next push that goes out. A reply (sent by the executor's thread that ran the call, never
a user's thread) to a connected gateway that is behind waits for room, up to REPLY_PATIENCE,
holding the lock at most LOCK_SLICE_MS at a time so pushes keep their few milliseconds;
replies to a gateway that is gone are dropped.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Counter, List, Optional

import zmq

from executor.send_credit import SendCredit
from shared import error_codes, messages, nesting, protocol

log = logging.getLogger(__name__)

# What JSON encoding raises for data it cannot carry (RecursionError: nested too deeply).
NOT_JSON = (TypeError, ValueError, RecursionError)
REPLY_PATIENCE = 60.0
LOCK_SLICE_MS = 5


class EventChannel:
    def __init__(self, sock: zmq.Socket[bytes], buffer_bytes: int):
        self._sock: Optional[zmq.Socket[bytes]] = sock
        self._lock = threading.Lock()
        self._credit = SendCredit(buffer_bytes)
        self._over_bound = ("the gateway is not reading events (it has not read %d bytes sent "
                            "to it, executor.event_buffer_bytes)" % buffer_bytes)
        self._gateway_present = True     # until the socket monitor says otherwise
        self._dropped: Counter[str] = collections.Counter()
        self._closed_drops = 0

    def send(self, frames: List[bytes], event: Optional[str] = None) -> bool:
        """Send one message (a push of ``event``, or a reply when None); False if it was
        dropped."""
        if event is None:
            return self._send_reply(frames)
        size = messages.frames_size(frames)
        with self._lock:
            if self._sock is None:
                self._closed_drops += 1
                problem = "the executor closed its event channel"
            elif not self._gateway_present:
                problem = "no gateway is connected"
            elif not self._credit.room_for(size):
                problem = self._over_bound
            elif not self._report_drops():
                problem = "the gateway is not reading events"
            else:
                try:
                    self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                    self._credit.sent(size)
                    return True
                except zmq.Again:
                    problem = "the gateway is not reading events"
            self._dropped[event] += 1
            first = self._closed_drops == 1 or sum(self._dropped.values()) == 1
        if first:   # one line per episode: a 100 Hz loop must not flood the journal
            log.warning("dropped a push of %r: %s; further pushes are dropped and counted until "
                        "it can send again", event, problem)
        return False

    def _send_reply(self, frames: List[bytes]) -> bool:
        deadline = time.monotonic() + REPLY_PATIENCE
        while True:
            with self._lock:
                if self._sock is None:
                    problem = "the executor closed its event channel"
                elif not self._gateway_present:
                    problem = "no gateway is connected"
                elif self._sent_within_slice(frames):
                    return True
                elif time.monotonic() < deadline:
                    problem = ""
                else:
                    problem = "the gateway has not read for %g s" % REPLY_PATIENCE
            if problem:
                log.warning("dropped a reply: %s", problem)
                return False
            time.sleep(0.001)    # let a pushing thread take the lock between slices

    def _sent_within_slice(self, frames: List[bytes]) -> bool:
        """Send now, or as soon as there is room within LOCK_SLICE_MS (lock held)."""
        assert self._sock is not None
        for _ in range(2):
            try:
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                self._credit.sent(messages.frames_size(frames))
                return True
            except zmq.Again:
                if not self._sock.poll(LOCK_SLICE_MS, zmq.POLLOUT):
                    return False
        return False

    def _report_drops(self) -> bool:
        """Send the count of dropped pushes, if any (lock held); False if it could not go."""
        if not self._dropped or self._sock is None:
            return True
        report = {"count": sum(self._dropped.values()), "by_event": dict(self._dropped)}
        frames = messages.Push(protocol.PUSH_DROPPED, report).to_frames()
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        self._credit.sent(messages.frames_size(frames))    # small: never held back by it
        log.info("told the gateway about %d dropped push(es)", report["count"])
        self._dropped.clear()
        return True

    def gateway_connected(self) -> None:
        """A gateway (re)connected: send again, and report what was dropped meanwhile."""
        with self._lock:
            self._gateway_present = True
            self._credit.reset()
            self._report_drops()

    def consumed(self, size: int) -> None:
        """The gateway read ``size`` more bytes of what was sent (messages.Consumed): it reads
        again, so report what was dropped now, not with a next push that may never come."""
        with self._lock:
            self._credit.consumed(size)
            if self._gateway_present:
                self._report_drops()

    def gateway_lost(self) -> None:
        with self._lock:
            self._gateway_present = False

    def close(self) -> None:
        """Close the socket (its linger lets queued replies out); later sends are dropped."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def reply(self, request_id: str, status: str, message: str, data: Any = None) -> None:
        """Send the reply to request ``request_id``; data that JSON cannot carry becomes an error."""
        try:
            frames = _encoded(messages.Reply(request_id, status, message, data), data)
        except NOT_JSON as e:
            text = "the return value cannot be sent as JSON: %s" % _json_problem(e, data)
            ack = protocol.error(text, code=error_codes.NOT_JSON)
            frames = messages.Reply.of(request_id, ack).to_frames()
        self.send(frames)

    def push(self, event: str, data: Any = None, latest: bool = False) -> None:
        """``push_message`` as the project sees it. Raises ValueError/TypeError for a reserved
        name or data JSON cannot carry, in the caller's thread. ``latest``: only the newest
        value of this event matters to a client that cannot keep up."""
        protocol.check_push_event(event)
        try:
            frames = _encoded(messages.Push(event, data, bool(latest)), data)
        except NOT_JSON as e:
            raise TypeError("push_message(%r): data cannot be sent as JSON: %s"
                            % (event, _json_problem(e, data))) from None
        self.send(frames, event)

    def system_push(self, event: str, data: Any) -> None:
        """An event of the executor itself (``robotctl:`` names), which push_message refuses."""
        self.send(messages.Push(event, data).to_frames(), event)

    def project_state(self, project: Any) -> None:
        """Tell the gateway the project's new state (see messages.ProjectState)."""
        self.send(messages.ProjectState(project).to_frames())


def _encoded(message: Any, data: Any) -> List[bytes]:
    """The message's frames; RecursionError when ``data`` nests deeper than the protocol's
    bound (which every JSON codec on the way to the client can carry). Encoded first: the
    JSON's brackets bound the depth at once, and only a value with many is walked."""
    frames: List[bytes] = message.to_frames()
    if not nesting.shallow_json(frames[0]) and nesting.too_deep(data):
        raise RecursionError(nesting.describe())
    return frames


def _json_problem(error: Exception, data: Any) -> str:
    if isinstance(error, RecursionError):
        return nesting.describe()
    if isinstance(error, ValueError):
        return "%s (NaN and infinity have no JSON form)" % error
    return "%s (top-level value is of type %s)" % (error, type(data).__name__)
