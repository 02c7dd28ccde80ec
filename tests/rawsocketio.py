"""A minimal Socket.IO client on a bare TCP socket, for tests that need a client which
completes the handshake and then simply stops reading (a slow or frozen reader).

Engine.IO 4 over a websocket: one Engine.IO packet per websocket text message; Socket.IO
packets ride in Engine.IO "4" (message) packets. Only what the tests need is implemented:
CONNECT (optionally with auth), EVENT packets, PING/PONG, and websocket ping/close frames.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any, Dict, Iterator, List, Optional, Tuple


class Closed(Exception):
    pass


class RawSocketIO:
    def __init__(self, host: str, port: int, auth: Optional[Dict[str, Any]] = None,
                 rcvbuf: int = 8192, timeout: float = 30.0):
        # A small receive buffer, set before connect so the TCP window stays small: once the
        # client stops reading, the gateway's socket fills after a few KiB, not megabytes.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self._buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
        head = self._read_until(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise Closed("no websocket upgrade: %r" % head[:200])
        opened = self.read_packet()
        if not opened.startswith("0"):
            raise Closed("expected an Engine.IO OPEN packet, got %r" % opened[:200])
        self.send_packet("40" + (json.dumps(auth) if auth else ""))
        self.early_events: List[Tuple[str, Any]] = []
        while True:
            packet = self.read_packet()
            if packet.startswith("40"):
                break
            if packet.startswith("44"):
                raise Closed("connection refused: %s" % packet[2:])
            self._handle(packet, self.early_events)

    # -- reading ------------------------------------------------------------------------

    def events(self, timeout: float) -> Iterator[Tuple[str, Any]]:
        """Yield (event, data) as they arrive, answering pings; stop after ``timeout`` s of
        silence."""
        self.sock.settimeout(timeout)
        while True:
            try:
                packet = self.read_packet()
            except socket.timeout:
                return
            found: List[Tuple[str, Any]] = []
            self._handle(packet, found)
            for item in found:
                yield item

    def _handle(self, packet: str, found: List[Tuple[str, Any]]) -> None:
        if packet == "2":
            self.send_packet("3")            # Engine.IO PING -> PONG
        elif packet.startswith("42"):
            body = json.loads(packet[2:])
            found.append((body[0], body[1] if len(body) > 1 else None))
        elif packet.startswith("1") or packet.startswith("41"):
            raise Closed("the server closed the session")

    def read_packet(self) -> str:
        """The next complete websocket text message."""
        parts: List[bytes] = []
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == 0x8:
                raise Closed("websocket close frame")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    def _read_frame(self) -> Tuple[bool, int, bytes]:
        first, second = self._read_exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exact(8))[0]
        mask = self._read_exact(4) if second & 0x80 else None
        payload = self._read_exact(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def _read_exact(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("the server closed the TCP connection")
        self._buffer += chunk

    # -- writing ------------------------------------------------------------------------

    def send_packet(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def vm_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes, from /proc/<pid>/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError("no VmRSS for pid %d" % pid)


def open_fds(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


def stay_stuck(host: str, port: int, seconds: float) -> None:
    """Connect as an observer, then read nothing for ``seconds`` while answering pings
    blindly (a frozen reader whose pings still arrive): ``python -m tests.rawsocketio``."""
    import threading
    import time
    client = RawSocketIO(host, port, auth={"role": "observer"})
    print(json.dumps({"address": "%s:%d" % client.sock.getsockname()[:2]}), flush=True)
    end = time.monotonic() + seconds
    while not threading.Event().wait(0.5) and time.monotonic() < end:
        try:
            client.send_packet("3")
        except OSError:
            break
    client.close()


if __name__ == "__main__":
    import sys
    stay_stuck(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
