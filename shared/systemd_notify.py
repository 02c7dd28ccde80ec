"""systemd glue: READY, STATUS and watchdog pings through the sdnotify package.

Without ``$NOTIFY_SOCKET`` (dev mode, tests) every call is a cheap no-op.
"""
from __future__ import annotations

import os
import time
from typing import Optional


class Notifier:
    def __init__(self) -> None:
        self._enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = None
        if self._enabled:
            import sdnotify
            self._notifier = sdnotify.SystemdNotifier()
            if self._notifier.socket is not None:
                # A full notify queue (a stopped `make run` supervisor; the kernel queues only
                # net.unix.max_dgram_qlen datagrams) must never block a main loop: the
                # message is dropped instead (sdnotify ignores the error), and the next
                # watchdog ping comes half a WatchdogSec later.
                self._notifier.socket.setblocking(False)
        usec = os.environ.get("WATCHDOG_USEC")
        # systemd kills the unit after WatchdogSec without a ping; ping at half that.
        self.watchdog_interval: Optional[float] = int(usec) / 2e6 if usec else None
        self._next_ping = 0.0
        self._status = ""

    def _send(self, text: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(text)

    def ready(self, status: str) -> None:
        self._send("READY=1\nSTATUS=%s" % status)
        self._status = status

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self._send("STATUS=%s" % text)

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        """Ping the watchdog if it is due; call this from the main loop only."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now >= self._next_ping:
            self._send("WATCHDOG=1")
            self._next_ping = now + self.watchdog_interval

    def seconds_to_next_ping(self) -> Optional[float]:
        if self.watchdog_interval is None:
            return None
        return max(0.0, self._next_ping - time.monotonic())
