"""gateway.send_buffer: a client's kernel send buffer follows its link's delivery rate,
within bounds, on a real loopback TCP connection."""
from __future__ import annotations

import socket
import threading

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


def test_a_fast_link_gets_a_larger_buffer_and_an_unknown_socket_is_left_alone():
    listener = socket.create_server(("127.0.0.1", 0))
    client_sockets.tune_listener(listener)
    reader = socket.create_connection(listener.getsockname())
    writer, _ = listener.accept()
    threading.Thread(target=_drain, args=(reader,), daemon=True).start()
    try:
        sizer = send_buffer.SendBufferSizer(writer)
        before = writer.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        for _ in range(100):
            writer.sendall(b"\0" * 100000)
        rate = send_buffer.delivery_rate(writer)
        assert rate is not None and rate > 0
        sizer.update()
        assert sizer.size == send_buffer.size_for(rate)
        # Linux reports twice what was set
        assert writer.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == (
            before if sizer.size == send_buffer.MIN_BYTES else 2 * sizer.size)
    finally:
        writer.close()
        reader.close()
        listener.close()
    send_buffer.SendBufferSizer(None).update()      # a long-polling client: no socket
