"""Client connections in the kernel: the socket options every connection gets, and what the
kernel holds for a client.

The kernel's send buffer must not hide seconds of data. Linux auto-tunes a socket's send
buffer up to ``net.ipv4.tcp_wmem``'s maximum (4 MiB here, 2 s at 2 MiB/s), and TCP's
congestion window grows to fill whatever queue the network has (a Wi-Fi driver, a shaper).
So every connection gets:

- ``SO_SNDBUF``: bounds the bytes the kernel holds for the client, unsent *and* sent but not
  yet acknowledged (Linux doubles the value given for its bookkeeping);
- ``TCP_NOTSENT_LOWAT``: the socket reports writable only once less than this is unsent, so
  a writer blocked on it adds data when the link has taken the last;
- ``TCP_NODELAY``: a small write (an ack after an event) must not wait for the client's
  delayed ACK (~40 ms) behind Nagle's algorithm.

They are set on the listening socket, which every accepted connection inherits (Linux), so
they compose with anything that wraps the listener (TLS). ``kernel_queue`` reads what the
kernel holds (SIOCOUTQ) and how much of it is unsent (SIOCOUTQNSD); the gateway's ``status``
reports both per client.
"""
from __future__ import annotations

import fcntl
import socket
import struct
from typing import Any, Dict, Optional, Tuple

# 128 KiB of buffer once doubled: ~60 ms at 2 MiB/s, still ~100 MiB/s at a 1 ms LAN round trip.
SEND_BUFFER = 64 * 1024
NOTSENT_LOWAT = 16 * 1024
TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)     # linux/tcp.h
SIOCOUTQ = 0x5411           # = TIOCOUTQ: unsent + unacknowledged bytes
SIOCOUTQNSD = 0x894B        # unsent bytes only


def tune_listener(listener: Any) -> None:
    """Set the options every client connection accepted on ``listener`` inherits."""
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    listener.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, NOTSENT_LOWAT)


def connection_socket(environ: Dict[str, Any]) -> Optional[Any]:
    """The client's TCP socket from eventlet.wsgi's WSGI environment, for a session that
    began as a websocket. A session that began with long-polling may upgrade on another
    connection, so its first request's socket is not the one that carries its data: None."""
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return None
    try:
        return environ["eventlet.input"].get_socket()
    except (KeyError, AttributeError):
        return None


def kernel_queue(sock: Optional[Any]) -> Optional[Tuple[int, int]]:
    """(bytes the kernel holds for the peer, of which unsent), or None if unknown."""
    if sock is None:
        return None
    try:
        fd = sock.fileno()
        return _ioctl_int(fd, SIOCOUTQ), _ioctl_int(fd, SIOCOUTQNSD)
    except (OSError, ValueError):
        return None


def _ioctl_int(fd: int, request: int) -> int:
    value: int = struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0]
    return value


def cut(sock: Optional[Any]) -> bool:
    """Shut the connection down both ways: a write blocked on it fails at once and its reader
    sees the end, so the server closes the session as for a client that went away."""
    if sock is None:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return False
