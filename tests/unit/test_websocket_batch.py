"""gateway.websocket_batch: an Engine.IO writer's small frames are written together when it
comes back for more, and arrive as the same RFC 6455 frames in the same order.

A real eventlet websocket server runs in this process; its handler behaves as python-engineio's
writer does (it comes back to its queue, here ``flush_current``, between batches), and a raw
green socket client parses every frame it receives."""
from __future__ import annotations

import socket

import eventlet
import eventlet.wsgi
import pytest
from eventlet import websocket

from gateway import websocket_batch, websocket_send
from tests.unit.test_websocket_send import read_frame
from tests.unit.test_websocket_unmask import _Quiet, handshake, send_masked

LARGE = websocket_send.SPLIT_BYTES + 5


def patterned(size: int) -> bytes:
    """Bytes whose every offset is told apart from its neighbours' (a misplaced piece shows)."""
    return bytes(n * 7 % 251 for n in range(size))


def burst(count: int):
    """``count`` small text messages, a large binary one, ``count`` small binary ones."""
    return (["4tick %d" % n for n in range(count)] + [b"\x07" * LARGE]
            + [b"%d" % n for n in range(count)])


@pytest.fixture
def writer_server():
    """(host, port) of a server whose handler is a writer: for "burst N" it sends
    burst(N), records how many bytes it had gathered before coming back, and comes back."""
    held = []

    @websocket.WebSocketWSGI
    def handle(ws):
        while True:
            websocket_batch.flush_current()     # back for more: what it gathered goes out
            message = ws.wait()
            if message is None:
                return
            what, size = message.split()
            if what == "views":      # one large message, as a view, between small ones
                for piece in ("4before", memoryview(patterned(int(size))), "4after"):
                    ws.send(piece)
                continue
            for piece in burst(int(size)):
                ws.send(piece)
            held.append(len(getattr(ws, websocket_batch.GATHERED) or b""))
    websocket_send.install()
    listener = eventlet.listen(("127.0.0.1", 0))
    # A small kernel buffer, as every client connection has: large writes are partial.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    thread = eventlet.spawn(eventlet.wsgi.server, listener, handle, log_output=False,
                            log=_Quiet())
    yield listener.getsockname(), held
    thread.kill()
    listener.close()


def test_this_engineio_writer_is_recognised():
    assert websocket_batch.writer_is_known()


@pytest.mark.parametrize("count", [1, 50, 3000])
def test_a_writers_frames_arrive_intact_and_in_order(writer_server, count):
    address, held = writer_server
    sock = handshake(address)
    try:
        with eventlet.Timeout(60):
            for _ in range(2):
                send_masked(sock, 1, b"burst %d" % count)
                for piece in burst(count):
                    opcode, data = read_frame(sock)
                    if isinstance(piece, str):
                        assert (opcode, data) == (1, piece.encode())
                    else:
                        assert (opcode, data) == (2, piece)
    finally:
        sock.close()
    # the frames after the large one waited for the writer to come back (up to BATCH_BYTES)
    assert held and all(0 < size < websocket_batch.BATCH_BYTES for size in held)


@pytest.mark.parametrize("size", [websocket_send.SPLIT_BYTES, 3 * 1024 * 1024 + 17])
def test_a_large_message_and_the_frames_before_it_go_out_together_intact(writer_server, size):
    """Small frames gathered, then a large view: one vectored write, resumed after every
    partial write of the small kernel buffer at the right byte; a slow reader forces many."""
    address, _ = writer_server
    sock = handshake(address)
    try:
        with eventlet.Timeout(60):
            send_masked(sock, 1, b"views %d" % size)
            eventlet.sleep(0.05)             # the writer is held up by the full buffer
            assert read_frame(sock) == (1, b"4before")
            assert read_frame(sock) == (2, patterned(size))
            assert read_frame(sock) == (1, b"4after")
    finally:
        sock.close()


def test_a_greenlet_that_is_no_writer_writes_at_once():
    assert not websocket_batch.gather(object(), b"\x81\x01", b"x")
