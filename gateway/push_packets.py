"""An event's Socket.IO packet, encoded once for every client, handed to Engine.IO directly.

``sio.emit(event, data, to=sid)`` per client builds a Socket.IO packet, looks for binary
values in the data, encodes it to JSON (splitting out the attachments) and wraps each piece
in an Engine.IO packet: for N clients, N times the same work. And a push from the executor
arrives as JSON already (shared.messages.EncodedValue): decoding it only to encode it again
is most of the gateway's work per small push.

So ``encode`` builds the Engine.IO packets of an event once: for a push, its JSON as the
executor wrote it (``2["name",DATA]``, or ``5N-["name",DATA]`` with N attachments, whose
placeholders are Socket.IO's own); for the gateway's own events, python-socketio's packet
class, as ``emit`` does. ``send`` puts the same text packet on each client's Engine.IO
socket (``Socket.send``, which is what ``emit`` ends in), and a packet of its own around the
same attachment bytes: python-engineio caches a packet's encoding, which for binary differs
between a websocket (raw) and long-polling (base64). On both library generations
(python-socketio 5.7.2 / engineio 4.3.4 and current) this relies on ``eio.sockets``,
``manager.eio_sid_from_sid`` and the packet format; ``PacketEncoder`` checks them at start-up
against the library's own encoding and otherwise falls back to the stock ``emit`` (logged).
"""
from __future__ import annotations

import json
import logging
from typing import Any, List, Optional

from engineio import packet as eio_packet
from engineio import socket as eio_socket
from engineio.exceptions import SocketIsClosedError
import socketio
from socketio import packet as sio_packet

from gateway import websocket_send
from shared import messages

log = logging.getLogger(__name__)


class Encoded:
    """One event, ready for any client: its Engine.IO text packet and its attachments
    (``packets``; None when the stock ``emit`` is used) and its data, for that ``emit``."""
    __slots__ = ("packets", "data", "size")

    def __init__(self, packets: Optional[List[Any]], data: Any):
        self.packets, self.data = packets, data
        self.size = len(packets[0].data) + sum(len(a) for a in packets[1:]) \
            if packets else _size_of(data)

    def value(self) -> Any:
        """The event's data as a Python value (MessageError if an IPC value is malformed)."""
        if isinstance(self.data, messages.EncodedValue):
            return self.data.value()
        return self.data


def _size_of(data: Any) -> int:
    """About the bytes of an event's data, when it is not encoded here."""
    if isinstance(data, messages.EncodedValue):
        return messages.frames_size([data.json] + data.attachments)
    return len(json.dumps(data, default=lambda value: "x" * len(value)
                          if isinstance(value, messages.BINARY) else str(value)))


def _message(piece: Any) -> Any:
    """An Engine.IO message packet; a memoryview (an attachment received without a copy,
    see hub_reader) is binary as bytes are: written as it is, base64'd for long-polling."""
    if not isinstance(piece, memoryview):
        return eio_packet.Packet(eio_packet.MESSAGE, piece)
    pkt = eio_packet.Packet(eio_packet.MESSAGE, b"")
    pkt.data = piece
    return pkt


def ipc_pieces(event: str, data: messages.EncodedValue) -> List[Any]:
    """The Socket.IO packet of ``event`` whose data is an IPC value: the text, then the
    attachments. A null value is no argument at all, as ``emit(event, None)`` sends it."""
    text = data.json.decode("utf-8")
    args = "" if text == "null" else "," + text
    count = len(data.attachments)
    kind = "%d%d-" % (sio_packet.BINARY_EVENT, count) if count else str(sio_packet.EVENT)
    return [kind + "[" + json.dumps(event) + args + "]"] + list(data.attachments)


def stock_pieces(sio: socketio.Server, event: str, data: Any) -> List[Any]:
    """The Socket.IO packet of ``event`` as python-socketio's ``emit`` encodes it."""
    pkt = sio.packet_class(sio_packet.EVENT, namespace="/",
                           data=[event] + ([] if data is None else [data]))
    encoded = pkt.encode()
    return encoded if isinstance(encoded, list) else [encoded]


class PacketEncoder:
    def __init__(self, sio: socketio.Server):
        self._sio = sio
        problem = _unexpected(sio)
        if problem:
            log.warning("sending events with python-socketio's emit, once per client (%s)",
                        problem)
        self.direct = not problem
        # Attachments received without a copy (memoryviews, see hub_reader) can be written
        # as they are only by websocket_send's ``send``; otherwise they are copied to bytes.
        self._views = websocket_send.installed()

    def encode(self, event: str, data: Any) -> Optional[Encoded]:
        """``event`` with ``data`` (a value, or an IPC EncodedValue), or None (logged) if it
        cannot be sent."""
        if not self.direct:
            return Encoded(None, data)
        try:
            if isinstance(data, messages.EncodedValue):
                pieces = ipc_pieces(event, data)
                if not self._views:
                    pieces = [bytes(p) if isinstance(p, memoryview) else p for p in pieces]
            else:
                pieces = stock_pieces(self._sio, event, data)
        except (TypeError, ValueError, RecursionError) as e:   # UnicodeDecodeError too
            log.error("dropped event %r: its data cannot be sent (%s: %s)",
                      event, type(e).__name__, e)
            return None
        return Encoded([_message(pieces[0])] + pieces[1:], data)

    def socket_of(self, sid: str) -> Any:
        """The client's Engine.IO socket, or None (then ``send`` emits)."""
        if not self.direct:
            return None
        try:
            return self._sio.eio.sockets[self._sio.manager.eio_sid_from_sid(sid, "/")]
        except (KeyError, AttributeError):
            return None

    def send(self, sid: str, socket: Any, event: str, encoded: Encoded) -> None:
        """Send to one client: its Engine.IO socket (from socket_of) or, without, ``emit``."""
        if socket is not None and encoded.packets is not None:
            try:
                socket.send(encoded.packets[0])
                for attachment in encoded.packets[1:]:
                    socket.send(_message(attachment))
            except SocketIsClosedError:
                pass           # the client has gone: the relay forgets it at its disconnect
            return
        try:
            value = encoded.value()
        except messages.MessageError as e:
            log.error("dropped event %r: %s", event, e)
            return
        self._sio.emit(event, value, to=sid)


SAMPLES = (("tick", {"i": 1, "text": "ça marche ✓", "ok": [True, None, 2.5]}),
           ("bare", None), ("raw", b"\x00\xff"),
           ("frame", {"seq": 7, "jpeg": b"\xff\xd8", "tiles": [b"a", {"b": b""}]}))


def _unexpected(sio: Any) -> Optional[str]:
    """Why this module cannot send as ``emit`` would with this python-socketio, or None."""
    if not isinstance(getattr(getattr(sio, "eio", None), "sockets", None), dict):
        return "engineio.Server has no sockets dict"
    if not callable(getattr(getattr(sio, "manager", None), "eio_sid_from_sid", None)):
        return "the client manager has no eio_sid_from_sid"
    if not callable(getattr(eio_socket.Socket, "send", None)):
        return "engineio.socket.Socket has no send"
    try:
        for event, data in SAMPLES:
            frames = messages.Push(event, data).to_frames()
            push = messages.decode(frames, parse_push_data=False)
            assert isinstance(push, messages.Push)
            ours, stock = ipc_pieces(event, push.data), stock_pieces(sio, event, data)
            if not _same_meaning(ours, stock):
                return "python-socketio encodes %r differently: %r" % (event, stock[0])
    except Exception as e:    # any surprise in another version: leave it to emit
        return "encoding a sample failed (%s: %s)" % (type(e).__name__, e)
    return None


def _same_meaning(ours: List[Any], stock: List[Any]) -> bool:
    if len(ours) != len(stock) or ours[1:] != stock[1:]:
        return False
    head, _, body = ours[0].partition("[")
    stock_head, _, stock_body = stock[0].partition("[")
    return bool(head == stock_head and json.loads("[" + body) == json.loads("[" + stock_body))
