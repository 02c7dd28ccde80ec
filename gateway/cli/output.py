"""Printing: human-readable text by default, one JSON document per line with ``--json``.

Results and events go to stdout, flushed per line so that pipes see them live; notes,
progress and errors go to stderr. python-socketio calls each event handler in a thread of
its own, so every line is written whole under a lock, and events a few milliseconds apart
may print out of order.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO

from gateway.cli.errors import CliError


def dumps(value: Any, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=_binary)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_binary)


def _binary(value: Any) -> str:
    """A binary attachment (a camera frame) is shown by its size, not printed."""
    if isinstance(value, (bytes, bytearray)):
        return "<%d bytes>" % len(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


class Output:
    def __init__(self, json_mode: bool, stdout: Optional[TextIO] = None,
                 stderr: Optional[TextIO] = None):
        self.json = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._lock = threading.Lock()

    def result(self, data: Any, human: Callable[[Any], str]) -> None:
        """One result: ``data`` as a JSON line, or ``human(data)`` as text."""
        self._print(dumps(data) if self.json else human(data))

    def event(self, name: str, data: Any, received: Optional[float] = None) -> None:
        received = time.time() if received is None else received
        if self.json:
            self._print(dumps({"event": name, "data": data, "time": received}))
        else:
            self._print("%s %s %s" % (clock(received), name, dumps(data)))

    def text(self, line: str) -> None:
        """A line of plain output (for example a log line), the same in both modes."""
        self._print(line)

    def note(self, message: str) -> None:
        """Information for a person, never part of the machine-readable output."""
        self._write(self.stderr, "robotctl: %s" % message)

    def error(self, error: CliError) -> None:
        if self.json:
            document = {"error": error.message, "exit_code": error.exit_code, "data": error.data}
            self._write(self.stderr, dumps(document))
        else:
            self._write(self.stderr, "robotctl: error: %s" % error.message)

    def _print(self, text: str) -> None:
        self._write(self.stdout, text)

    def _write(self, stream: TextIO, line: str) -> None:
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


def clock(timestamp: float) -> str:
    """HH:MM:SS.mmm in local time, for event lines."""
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) + (".%03d" % (timestamp % 1 * 1000))
