"""gateway.send_buffer: a client's kernel send buffer follows the rate its peer takes data
at, within bounds, on real loopback TCP connections; a peer that reads nothing keeps the
minimum."""
from __future__ import annotations

import socket
import threading
import time
from typing import Tuple

import pytest

from gateway import client_sockets, send_buffer


def test_size_holds_the_hold_time_within_the_bounds():
    assert send_buffer.size_for(0) == send_buffer.MIN_BYTES
    assert send_buffer.size_for(2 * 1024 * 1024) == send_buffer.MIN_BYTES    # a 16 mbit link
    lan = send_buffer.size_for(12_500_000)                                   # 100 mbit/s
    assert send_buffer.MIN_BYTES < lan <= 12_500_000 * send_buffer.HOLD_SECONDS
    assert lan % send_buffer.STEP == 0
    assert send_buffer.size_for(10 ** 10) == send_buffer.MAX_BYTES


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


@pytest.fixture
def pair():
    """(the gateway's end, the client's end) of a loopback connection tuned like the gateway's."""
    listener = socket.create_server(("127.0.0.1", 0))
    client_sockets.tune_listener(listener)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    server.setblocking(False)
    yield server, client
    for sock in (server, client, listener):
        sock.close()


def _send_for(sock: socket.socket, seconds: float) -> None:
    """Write as much as the socket takes for ``seconds``."""
    block = b"\0" * 100000
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sock.send(block)
        except BlockingIOError:
            time.sleep(0.001)


def _kernel_sndbuf(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)


def test_a_peer_that_takes_data_fast_gets_a_larger_buffer(pair: Tuple[socket.socket, socket.socket]):
    server, client = pair
    threading.Thread(target=_drain, args=(client,), daemon=True).start()
    sizer = send_buffer.SendBufferSizer(server)
    _send_for(server, 2 * send_buffer.RESIZE_INTERVAL)
    sizer.update()
    assert sizer.size > send_buffer.MIN_BYTES
    assert _kernel_sndbuf(server) == 2 * sizer.size          # Linux reports it doubled


def test_a_peer_that_reads_nothing_keeps_the_minimum(pair: Tuple[socket.socket, socket.socket]):
    server, _ = pair
    before = _kernel_sndbuf(server)
    sizer = send_buffer.SendBufferSizer(server)
    _send_for(server, 0.3)                     # fills what the kernel takes, then nothing moves
    sizer.update()
    _send_for(server, 2 * send_buffer.RESIZE_INTERVAL)
    sizer.update()
    assert sizer.size == send_buffer.MIN_BYTES
    assert _kernel_sndbuf(server) == before


def test_a_client_without_a_socket_is_left_alone():
    sizer = send_buffer.SendBufferSizer(None)         # a long-polling client
    sizer.update()
    assert sizer.size == send_buffer.MIN_BYTES
