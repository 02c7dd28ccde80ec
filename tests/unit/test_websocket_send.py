"""gateway.websocket_send: what eventlet's websocket server sends arrives as RFC 6455 frames,
byte for byte, when large messages are written without being joined to their header.

A real eventlet websocket server runs in this process (green threads), with a small kernel
send buffer (the gateway's) so that large frames take many partial writes. A raw green
socket client performs the handshake, asks for messages of given sizes and kinds, and
parses every frame it receives.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket as plain_socket
import struct
from typing import Tuple

import eventlet
import eventlet.wsgi
import pytest
from eventlet import websocket
from eventlet.green import socket

from gateway import client_sockets, websocket_send
from tests.unit.test_websocket_unmask import handshake, send_masked, serve

SIZES = (0, 1, 125, 126, 65535, 65536, websocket_send.SPLIT_BYTES - 1,
         websocket_send.SPLIT_BYTES, 100000, 3 * 1024 * 1024 + 5)


def payload_for(size: int, seed: int) -> bytes:
    return hashlib.sha256(b"%d" % seed).digest() * (size // 32) + b"x" * (size % 32)


@pytest.fixture
def server():
    """(host, port) of a server that, for each text request "<kind> <size>", sends a message
    of that size: "b" binary bytes, "m" the same as a memoryview, "t" text with a two-byte
    UTF-8 character in it."""
    def answer(request):
        kind, size = request.split()
        data = payload_for(int(size), 1)
        if kind == "m":
            return memoryview(data)     # an attachment received without a copy (hub_reader)
        return data if kind == "b" else ("\u00e9" + data.hex())[:int(size)]
    yield from serve(answer, client_sockets.tune_listener)


def read_frame(sock: socket.socket) -> Tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(min(n - len(data), 1 << 16))
            assert chunk, "server closed the connection"
            data += chunk
        return bytes(data)

    first, second = struct.unpack("!BB", exactly(2))
    assert first & 0xF0 == 0x80, "one final frame, no compression bit"
    assert not second & 0x80, "a server never masks"
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    return first & 0x0F, exactly(length)


def test_install_is_idempotent():
    assert websocket_send.install() is True
    patched = websocket.RFC6455WebSocket.send
    assert websocket_send.install() is True
    assert websocket.RFC6455WebSocket.send is patched


@pytest.mark.parametrize("kind", ["b", "t", "m"])
def test_every_size_arrives_as_one_intact_frame(server, kind):
    websocket_send.install()
    sock = handshake(server)
    sock.setsockopt(plain_socket.SOL_SOCKET, plain_socket.SO_RCVBUF, 16 * 1024)
    try:
        with eventlet.Timeout(60):
            for size in SIZES:
                send_masked(sock, 1, ("%s %d" % (kind, size)).encode())
                opcode, data = read_frame(sock)
                if kind in "bm":
                    assert (opcode, data) == (2, payload_for(size, 1)), size
                else:
                    text = ("\u00e9" + payload_for(size, 1).hex())[:size]
                    assert (opcode, data) == (1, text.encode("utf-8")), size
    finally:
        sock.close()


def test_headers_match_eventlets_own_framing():
    for size in SIZES:
        payload = os.urandom(size)
        packed = websocket.RFC6455WebSocket._pack_message(websocket_send._Packer(), payload)
        assert packed == websocket_send.frame_header(2, size) + payload


def test_an_unexpected_eventlet_is_left_alone(monkeypatch, caplog):
    def _pack_message(self, message, masked=False):     # a future eventlet framing otherwise
        return b"\x00" + message + b"\xff"

    monkeypatch.setattr(websocket.RFC6455WebSocket, "send", lambda self, message, **kw: None)
    monkeypatch.setattr(websocket.RFC6455WebSocket, "_pack_message", _pack_message)
    with caplog.at_level(logging.WARNING, logger="gateway.websocket_send"):
        assert websocket_send.install() is False
    assert not getattr(websocket.RFC6455WebSocket.send, "robotctl_split_send", False)
    assert "not patching eventlet's websocket send" in caplog.text
