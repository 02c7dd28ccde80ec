"""Sizing each client's kernel send buffer to its link, in time rather than bytes.

client_sockets gives every connection a small ``SO_SNDBUF`` (64 KiB), so that on a slow link
(Wi-Fi, a phone) the kernel never hides seconds of data behind an ack or a PING: 128 KiB is
~60 ms at 2 MiB/s. On a fast link the same bound costs throughput: a 100 KB frame needs
several writes, each after a wake-up of the hub, while the kernel could have taken it at once.

So the buffer follows the link: while the client takes data, its socket's delivery rate
(``TCP_INFO``'s ``tcpi_delivery_rate``, what the kernel measured the peer to acknowledge) is
read at most every RESIZE_INTERVAL seconds, and ``SO_SNDBUF`` set to what that rate drains in
HOLD_SECONDS, between MIN_BYTES and MAX_BYTES. On a 2 MiB/s link that is the minimum, as
before; on loopback or a LAN it grows, and the kernel still holds no more than HOLD_SECONDS
of data at the rate measured last. A link that slows down gets a smaller buffer at the next
check (Linux accepts a smaller ``SO_SNDBUF`` on a live socket; what it holds then drains).
"""
from __future__ import annotations

import socket
import struct
import time
from typing import Any, Optional

from gateway import client_sockets

HOLD_SECONDS = 0.025
MIN_BYTES = client_sockets.SEND_BUFFER
MAX_BYTES = 1024 * 1024
RESIZE_INTERVAL = 0.1
STEP = 16 * 1024              # sizes are rounded to this, so that noise does not resize
# struct tcp_info (linux/tcp.h): tcpi_delivery_rate is a __u64 at this offset (Linux ≥ 4.9).
TCP_INFO = getattr(socket, "TCP_INFO", 11)
DELIVERY_RATE_OFFSET = 160
TCP_INFO_BYTES = 232


def delivery_rate(sock: Any) -> Optional[int]:
    """Bytes per second the kernel measured the peer to take, or None if unknown."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_BYTES)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < DELIVERY_RATE_OFFSET + 8:
        return None
    rate: int = struct.unpack_from("Q", info, DELIVERY_RATE_OFFSET)[0]
    return rate or None


def size_for(rate: int) -> int:
    """The send buffer that holds HOLD_SECONDS at ``rate``, within the bounds."""
    wanted = int(rate * HOLD_SECONDS) // STEP * STEP
    return max(MIN_BYTES, min(MAX_BYTES, wanted))


class SendBufferSizer:
    def __init__(self, sock: Any):
        self._sock = sock
        self.size = MIN_BYTES          # what client_sockets.tune_listener set
        self._checked = 0.0

    def update(self) -> None:
        """Resize the buffer to the link's current rate (at most every RESIZE_INTERVAL s)."""
        now = time.monotonic()
        if self._sock is None or now - self._checked < RESIZE_INTERVAL:
            return
        self._checked = now
        rate = delivery_rate(self._sock)
        if rate is None:
            return
        wanted = size_for(rate)
        if wanted != self.size:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, wanted)
            except OSError:
                return
            self.size = wanted
