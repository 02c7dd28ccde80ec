"""gateway.fast_calls: the start-up check against the python-socketio that is installed (run
on both library generations: the venv's and, through tests/debian_tier.py, bookworm's).

The fast path relies on private parts of python-socketio; on the installed version it must
find them and take over Engine.IO's message handler, and where they differ it must leave the
stock handler in place and say why.
"""
from __future__ import annotations

import logging

import pytest
import socketio
from socketio import packet

from gateway import fast_calls, packet_json
from shared import protocol


def server() -> socketio.Server:
    return socketio.Server(async_mode="eventlet", json=packet_json, logger=False,
                           engineio_logger=False)


def fast(sio: socketio.Server) -> fast_calls.FastCalls:
    return fast_calls.FastCalls(sio, link=None, sessions=None, call_timeout=1.0)  # type: ignore[arg-type]


def test_installs_on_this_python_socketio():
    sio = server()
    calls = fast(sio)
    assert calls.install() is True
    assert sio.eio.handlers["message"] == calls.message


def test_keeps_the_stock_handler_when_it_is_not_python_socketios(caplog):
    sio = server()
    other = lambda eio_sid, data: None  # noqa: E731 (someone else's handler)
    sio.eio.on("message", other)
    with caplog.at_level(logging.WARNING, "gateway.fast_calls"):
        assert fast(sio).install() is False
    assert sio.eio.handlers["message"] is other
    assert "stock path" in caplog.text and "_handle_eio_message" in caplog.text


@pytest.mark.parametrize("attribute", ["_binary_packet", "packet_class"])
def test_keeps_the_stock_handler_when_a_private_part_differs(caplog, attribute):
    sio = server()
    stock = sio.eio.handlers["message"]
    calls = fast(sio)
    if attribute == "_binary_packet":
        sio._binary_packet = None
    else:                     # a Packet that encodes ACKs in another way
        class Spaced(sio.packet_class):
            def encode(self):
                encoded = super().encode()
                return encoded.replace(",", ", ") if isinstance(encoded, str) else encoded
        sio.packet_class = Spaced
    with caplog.at_level(logging.WARNING, "gateway.fast_calls"):
        assert calls.install() is False
    assert sio.eio.handlers["message"] == stock
    assert "stock path" in caplog.text


def test_acks_are_encoded_as_python_socketio_encodes_them():
    sio = server()
    calls = fast(sio)
    for ack in (protocol.success("ok", {"v": [0.5, "é", None]}), protocol.success("ok"),
                protocol.error("no", code="invalid_payload")):
        stock = sio.packet_class(packet.ACK, namespace="/", id=42, data=[ack]).encode()
        assert calls._encode(42, ack) == stock
    binary = protocol.success("ok", {"frame": b"\x00\x01", "more": [b"\x02"]})
    stock = sio.packet_class(packet.ACK, namespace="/", id=5, data=[binary]).encode()
    assert calls._encode(5, binary) == stock
    assert stock[0].startswith("62-5[") and stock[1:] == [b"\x00\x01", b"\x02"]
