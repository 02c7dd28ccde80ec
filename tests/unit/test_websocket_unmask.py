"""gateway.websocket_unmask: masked client frames reach eventlet's websocket server intact.

A real eventlet websocket server runs in this process (green threads); a raw green socket
client performs the handshake and sends one masked binary frame of a few MiB of random
bytes, in odd-sized pieces so that the server unmasks chunks starting at every key offset.
The server answers with the length and SHA-256 of what it received.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import struct

import eventlet
import eventlet.wsgi
import pytest
from eventlet import websocket
from eventlet.green import socket

from gateway import websocket_unmask

MiB = 1024 * 1024


def serve(answer, tune=lambda listener: None):
    """A generator for fixtures: yields the (host, port) of an eventlet websocket server that
    sends ``answer(message)`` for each message it receives."""
    @websocket.WebSocketWSGI
    def handle(ws):
        while True:
            message = ws.wait()
            if message is None:
                return
            ws.send(answer(message))

    listener = eventlet.listen(("127.0.0.1", 0))
    tune(listener)
    thread = eventlet.spawn(eventlet.wsgi.server, listener, handle, log_output=False,
                            log=_Quiet())
    yield listener.getsockname()
    thread.kill()
    listener.close()


@pytest.fixture
def server():
    """(host, port) of an eventlet websocket server that answers each message with
    "<length> <sha256 hex>"."""
    def digest(message):
        if isinstance(message, str):
            message = message.encode("utf-8")
        return "%d %s" % (len(message), hashlib.sha256(message).hexdigest())
    yield from serve(digest)


class _Quiet:
    def write(self, text: str) -> None:
        pass


def xor_reference(data: bytes, key: bytes) -> bytes:
    """Mask independently of the code under test: XOR with a constant is a byte mapping."""
    out = bytearray(len(data))
    for i in range(4):
        table = bytes(b ^ key[i] for b in range(256))
        out[i::4] = data[i::4].translate(table)
    return bytes(out)


def handshake(address) -> socket.socket:
    sock = socket.create_connection(address)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "server closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def send_masked(sock: socket.socket, opcode: int, payload: bytes, piece: int = 65537) -> None:
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    frame = header + key + xor_reference(payload, key)
    for start in range(0, len(frame), piece):
        sock.sendall(frame[start:start + piece])
        eventlet.sleep(0)   # let the server read a partial chunk


def read_text_frame(sock: socket.socket) -> str:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "server closed the connection"
            data += chunk
        return data

    first, second = struct.unpack("!BB", exactly(2))
    assert first & 0x0F == 1 and not second & 0x80
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    return exactly(length).decode()


def roundtrip(address, opcode: int, payload: bytes) -> str:
    sock = handshake(address)
    try:
        send_masked(sock, opcode, payload)
        with eventlet.Timeout(60):
            return read_text_frame(sock)
    finally:
        sock.close()


def expected(payload: bytes) -> str:
    return "%d %s" % (len(payload), hashlib.sha256(payload).hexdigest())


def test_install_replaces_eventlets_unmask_and_is_idempotent():
    assert websocket_unmask.install() is True
    assert websocket.RFC6455WebSocket._apply_mask is websocket_unmask.apply_mask
    assert websocket_unmask.install() is True
    assert websocket.RFC6455WebSocket._apply_mask is websocket_unmask.apply_mask


def test_large_random_binary_frame_arrives_intact(server):
    websocket_unmask.install()
    payload = os.urandom(3 * MiB + 3)
    assert roundtrip(server, 2, payload) == expected(payload)


def test_text_frame_and_small_frames_arrive_intact(server):
    websocket_unmask.install()
    text = base64.b64encode(os.urandom(2 * MiB + 1))
    assert roundtrip(server, 1, text) == expected(text)
    for size in (0, 1, 3, 4, 5, 125, 126, 65535, 65536):
        payload = os.urandom(size)
        assert roundtrip(server, 2, payload) == expected(payload)


@pytest.mark.parametrize("offset", range(8))
def test_apply_mask_matches_the_bytewise_definition(offset):
    data = os.urandom(1001)
    mask = tuple(os.urandom(4))
    reference = bytes(data[i] ^ mask[(offset + i) % 4] for i in range(1000))
    assert websocket_unmask.apply_mask(data, mask, 1000, offset) == reference
    assert websocket_unmask.apply_mask(data, list(mask), None, offset) == reference + bytes(
        [data[1000] ^ mask[(offset + 1000) % 4]])


def test_an_unexpected_eventlet_is_left_alone(monkeypatch, caplog):
    def _apply_mask(data, mask):     # a future eventlet with another signature
        return data

    monkeypatch.setattr(websocket.RFC6455WebSocket, "_apply_mask", staticmethod(_apply_mask))
    with caplog.at_level(logging.WARNING, logger="gateway.websocket_unmask"):
        assert websocket_unmask.install() is False
    assert websocket.RFC6455WebSocket.__dict__["_apply_mask"].__func__ is _apply_mask
    assert "not patching websocket unmasking" in caplog.text
