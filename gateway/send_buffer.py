"""Sizing each client's kernel send buffer to its link, in time rather than bytes.

client_sockets gives every connection a small ``SO_SNDBUF`` (64 KiB), so that on a slow link
(Wi-Fi, a phone) the kernel never hides seconds of data behind an ack or a PING: 128 KiB is
~60 ms at 2 MiB/s. On a fast link the same bound costs throughput: a 100 KB frame needs
several writes, each after a wake-up of the hub, while the kernel could have taken it at once.

So the buffer follows the link: while the client takes data, the rate at which its peer
acknowledged bytes over the last interval (``TCP_INFO``'s ``tcpi_bytes_acked``) is read at
most every RESIZE_INTERVAL seconds, and ``SO_SNDBUF`` set to what that rate drains in
HOLD_SECONDS, between MIN_BYTES and MAX_BYTES. On a 2 MiB/s link that is the minimum, as
before; on loopback or a LAN it grows, and the kernel still holds no more than about
HOLD_SECONDS of data at the rate measured last. The rate is what was acknowledged, not the
kernel's own estimate of the path (``tcpi_delivery_rate``, which stays high when a client on
a fast link stops reading): a client that stops taking data gets the minimum again at the
next check (Linux accepts a smaller ``SO_SNDBUF`` on a live socket; what it holds drains).
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
RESIZE_INTERVAL = 0.02
STEP = 16 * 1024              # sizes are rounded to this, so that noise does not resize
# struct tcp_info (linux/tcp.h): tcpi_bytes_acked is a __u64 at this offset (Linux ≥ 4.2).
TCP_INFO = getattr(socket, "TCP_INFO", 11)
BYTES_ACKED_OFFSET = 120
TCP_INFO_BYTES = 232


def bytes_acked(sock: Any) -> Optional[int]:
    """Bytes the peer has acknowledged on this connection so far, or None if unknown."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_BYTES)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < BYTES_ACKED_OFFSET + 8:
        return None
    acked: int = struct.unpack_from("Q", info, BYTES_ACKED_OFFSET)[0]
    return acked


def size_for(rate: int) -> int:
    """The send buffer that holds HOLD_SECONDS at ``rate``, within the bounds."""
    wanted = int(rate * HOLD_SECONDS) // STEP * STEP
    return max(MIN_BYTES, min(MAX_BYTES, wanted))


class SendBufferSizer:
    def __init__(self, sock: Any):
        self._sock = sock
        self.size = MIN_BYTES          # what client_sockets.tune_listener set
        self._checked = time.monotonic()
        self._acked = bytes_acked(sock) if sock is not None else None

    def update(self) -> None:
        """Resize the buffer to the link's recent rate (at most every RESIZE_INTERVAL s)."""
        now = time.monotonic()
        if self._sock is None or now - self._checked < RESIZE_INTERVAL:
            return
        acked = bytes_acked(self._sock)
        if acked is None or self._acked is None:
            self._sock = None          # not a TCP socket we can read: leave it as it is
            return
        rate = (acked - self._acked) / (now - self._checked)
        self._checked, self._acked = now, acked
        wanted = size_for(int(rate))
        if wanted != self.size:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, wanted)
            except OSError:
                return
            self.size = wanted
