"""The project's stdout and stderr, live to the clients and still to the journal.

Captured at the file-descriptor level (fds 1 and 2 become pipes), so output of C/C++ SDKs and
of subprocesses is included. A reader thread per stream copies every byte to the original
destination (the journal) at once and sends complete lines as ``robotctl:log`` events, at
most ``LINES_PER_SECOND``; lines over the limit are counted and reported as
``robotctl:log_dropped {count}``. The executor's own logging keeps a copy of the original
stderr, so it is not echoed to clients.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from shared import protocol

LINES_PER_SECOND = 200
MAX_LINE = 4096

SystemPush = Callable[[str, Any], None]


class RateLimit:
    """At most ``rate`` events per one-second window; counts what it refuses."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic):
        self._rate, self._clock = rate, clock
        self._window, self._used = 0.0, 0
        self.dropped = 0

    def allow(self) -> bool:
        now = self._clock()
        if now - self._window >= 1.0:
            self._window, self._used = now, 0
        if self._used < self._rate:
            self._used += 1
            return True
        self.dropped += 1
        return False

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


class StreamCapture:
    def __init__(self, fd: int, stream: str, push: SystemPush, limit: RateLimit):
        self._stream, self._push, self._limit = stream, push, limit
        self._original = os.dup(fd)          # where the bytes went before: the journal
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self._read_end = read_end
        self._partial = b""
        threading.Thread(target=self._pump, name="capture-" + stream, daemon=True).start()

    def _pump(self) -> None:
        while True:
            chunk = os.read(self._read_end, 65536)
            if not chunk:
                return
            _write_all(self._original, chunk)
            self._lines(chunk)

    def _lines(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        if len(self._partial) > MAX_LINE:      # a line without end: send it in pieces
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._send(line.decode("utf-8", "replace"))

    def _send(self, text: str) -> None:
        if not self._limit.allow():
            return
        dropped = self._limit.take_dropped()
        if dropped:
            self._push(protocol.LOG_DROPPED, {"count": dropped})
        self._push(protocol.LOG, {"stream": self._stream, "text": text, "time": time.time()})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return          # the journal is gone; keep draining so the project never blocks
        view = view[written:]


def capture(push: SystemPush) -> None:
    """Start capturing fds 1 and 2; both streams share one rate limit."""
    limit = RateLimit(LINES_PER_SECOND)
    for fd, stream in ((1, "stdout"), (2, "stderr")):
        StreamCapture(fd, stream, push, limit)
