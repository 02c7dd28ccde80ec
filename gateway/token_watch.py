"""Token rotation without a restart: watch the token file, take a new token at once.

watchdog's observer runs in its own OS thread; the gateway runs in eventlet's hub. The
observer only writes a byte to a pipe; a greenlet waiting on the pipe's read end in the hub
re-reads the file there. Nothing polls: both sides block until the file's folder changes.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import eventlet
from eventlet import hubs

from gateway.callbacks import GREENLET, Callbacks
from gateway.sessions import TokenFileError, read_token

log = logging.getLogger(__name__)

# The observer's thread wakes this often to check whether it was stopped; events wake it
# at once.
OBSERVER_TIMEOUT = 60.0


class TokenWatch:
    """Fires ``on_new_token(token)`` when the file at ``path`` holds a new token, in a
    greenlet of the gateway's hub (not the observer's thread)."""

    def __init__(self, path: str, current: str):
        self.path = str(Path(path).resolve())
        self.current = current
        self.on_new_token = Callbacks("new token", GREENLET)
        self._read_end, self._write_end = os.pipe()
        os.set_blocking(self._read_end, False)
        self._observer: Optional[Any] = None

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watch = self

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                paths = (getattr(event, "src_path", ""), getattr(event, "dest_path", ""))
                if watch.path in [os.fsdecode(p) for p in paths if p]:
                    os.write(watch._write_end, b"!")

        self._observer = Observer(timeout=OBSERVER_TIMEOUT)
        self._observer.daemon = True
        self._observer.schedule(Wake(), os.path.dirname(self.path), recursive=False)
        self._observer.start()
        eventlet.spawn(self._wait)

    def _wait(self) -> None:
        while True:
            hubs.trampoline(self._read_end, read=True)
            try:
                while os.read(self._read_end, 4096):
                    pass
            except BlockingIOError:
                pass
            self._reread()

    def _reread(self) -> None:
        try:
            token = read_token(self.path)
        except TokenFileError as e:
            # Mid-write, or removed: keep the token we have; the next change brings it back.
            log.warning("keeping the current token: %s", e)
            return
        if token is not None and token != self.current:
            self.current = token
            self.on_new_token.fire(token)
