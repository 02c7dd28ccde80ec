"""gateway.push_packets: an event encoded once decodes, in python-socketio's own packet
decoder, to what ``emit`` would have sent; the library is checked at start-up, and a
library that encodes otherwise falls back to ``emit``."""
from __future__ import annotations

import base64
import logging

import pytest
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from gateway import packet_json, push_packets, websocket_send
from shared import messages

VALUES = [None, 0, "ça marche ✓", [1.5, None, True, "\n\"q\""], {"seq": 1, "jpeg": b"\xff\xd8"},
          b"\x00\xff" * 100, {"tiles": [b"a", {"b": b""}, [b"c"]], "n": {"deep": b"d"}},
          [memoryview(b"mv"), bytearray(b"ba")]]


@pytest.fixture
def sio():
    return socketio.Server(async_mode="eventlet", json=packet_json)


def received(sio, pieces):
    """[event, *args] as a python-socketio client decodes the pieces."""
    pkt = sio.packet_class(encoded_packet=pieces[0])
    for attachment in pieces[1:]:
        pkt.add_attachment(bytes(attachment))
    return pkt.data


def emitted(event, value):
    """What emit(event, value) delivers, with binary values as the client gets them."""
    def plain(v):
        if isinstance(v, messages.BINARY):
            return bytes(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return [event] + ([] if value is None else [plain(value)])


def test_this_python_socketio_is_sent_to_directly(sio, caplog):
    with caplog.at_level(logging.WARNING, logger="gateway.push_packets"):
        assert push_packets.PacketEncoder(sio).direct
    assert not caplog.text


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_push_decodes_as_emit_would_have_sent_it(sio, value):
    push = messages.decode(messages.Push("ev", value).to_frames(), parse_push_data=False)
    encoded = push_packets.PacketEncoder(sio).encode("ev", push.data)
    assert encoded is not None and encoded.packets is not None
    text = encoded.packets[0]
    assert text.packet_type == eio_packet.MESSAGE and not text.binary
    pieces = [text.data] + encoded.packets[1:]
    assert received(sio, pieces) == emitted("ev", value)
    binary = isinstance(value, (bytes, dict, list)) and pieces[1:]
    assert pieces[0].startswith("%d" % (sio_packet.BINARY_EVENT if binary else sio_packet.EVENT))
    assert encoded.size == sum(len(piece) for piece in pieces)


@pytest.mark.parametrize("value", VALUES[:-1], ids=repr)     # (its own hold no memoryview)
def test_the_gateways_own_events_are_encoded_as_emit_does(sio, value):
    encoded = push_packets.PacketEncoder(sio).encode("robotctl:x", value)
    pieces = [encoded.packets[0].data] + encoded.packets[1:]
    assert received(sio, pieces) == emitted("robotctl:x", value)


def test_an_attachment_received_without_a_copy_stays_a_binary_view(sio):
    websocket_send.install()
    view = memoryview(b"\x01" * 70000)
    data = messages.EncodedValue(b'{"_placeholder":true,"num":0}', [view])
    encoded = push_packets.PacketEncoder(sio).encode("frame", data)
    assert encoded.packets[1] is view
    attachment = push_packets._message(view)     # each client's packet around the view
    assert attachment.binary and attachment.data is view
    assert attachment.encode() is view     # what the websocket writer hands to send
    polled = push_packets._message(view)           # a long-polling client's: base64
    assert base64.b64decode(polled.encode(b64=True)[1:]) == bytes(view)


def test_without_the_split_send_a_view_is_copied_to_bytes(sio, monkeypatch):
    monkeypatch.setattr(websocket_send, "installed", lambda: False)
    data = messages.EncodedValue(b'{"_placeholder":true,"num":0}', [memoryview(b"\x01\x02")])
    attachment = push_packets.PacketEncoder(sio).encode("frame", data).packets[1]
    assert type(attachment) is bytes and attachment == b"\x01\x02"


@pytest.mark.parametrize("data", [{1, 2}, object()], ids=repr)
def test_an_event_whose_data_cannot_be_encoded_is_dropped_and_logged(sio, caplog, data):
    encoder = push_packets.PacketEncoder(sio)
    with caplog.at_level(logging.ERROR, logger="gateway.push_packets"):
        assert encoder.encode("x", data) is None
    assert "dropped event 'x'" in caplog.text
    assert encoder.encode("x", {"fine": 1}) is not None      # and the next one goes


def test_ipc_data_that_is_not_utf8_is_dropped_and_logged(sio, caplog):
    with caplog.at_level(logging.ERROR, logger="gateway.push_packets"):
        assert push_packets.PacketEncoder(sio).encode(
            "x", messages.EncodedValue(b'"\xff"', [])) is None
    assert "cannot be sent" in caplog.text


def test_a_python_socketio_that_encodes_otherwise_gets_emit(sio, caplog, monkeypatch):
    class Other(sio.packet_class):
        def encode(self):
            return "2/other," + super().encode()[1:]     # another namespace: not ours to build
    monkeypatch.setattr(sio, "packet_class", Other)
    with caplog.at_level(logging.WARNING, logger="gateway.push_packets"):
        encoder = push_packets.PacketEncoder(sio)
    assert not encoder.direct
    assert "sending events with python-socketio's emit" in caplog.text
    encoded = encoder.encode("x", {"a": 1})
    assert encoded.packets is None and encoded.value() == {"a": 1} and encoded.size > 0
    assert encoder.socket_of("any") is None


def test_without_engineio_sockets_it_falls_back(sio, caplog, monkeypatch):
    monkeypatch.delattr(sio.eio, "sockets")
    with caplog.at_level(logging.WARNING, logger="gateway.push_packets"):
        assert not push_packets.PacketEncoder(sio).direct
    assert "no sockets dict" in caplog.text
