"""The fast path of ``process``: handled where Engine.IO delivers the message, answered from
the hub.

python-socketio decodes every message into a Packet, spawns a greenlet per event (its
``async_handlers``), and that greenlet then waits for the executor's reply, wakes up, and
encodes the ack: per call a spawn, a blocked greenlet, two switches and a hub wake-up. For
``process`` (the call a control loop makes at 50 Hz) this module takes the text packet
``2<id>["process",<payload>]`` of the default namespace straight from Engine.IO's 'message'
handler, in the websocket reader's greenlet: decoded once (``packet_json.loads``, so a
payload too deep to decode gets its error ack), checked exactly as the stock handler checks
it (``handlers.refused``, the controller-only rule, ``protocol.parse_process``), and sent
to the executor with ``ExecutorLink.request_async``. The answer (the reply, its timeout,
or the executor's death) arrives in the hub, which encodes the ACK packet and puts it into
the client's Engine.IO queue (``eio.send``: an unbounded eventlet queue, whose ``put``
never switches); a reply holding bytes goes out as python-socketio's own BINARY_ACK with
attachments. So there is no greenlet per call and nothing waits.

Everything else goes to python-socketio's handler unchanged: other events, binary packets,
packets without an ack id, other namespaces, a client not (or no longer) connected, and any
call made while no executor is connected (the stock path waits for one). The path relies on
private parts of python-socketio (its message handler, ``_binary_packet``, the manager's
sid mapping, the Packet codec); ``install`` checks them on the running version and keeps
the stock path, with a warning, if they are not what this module was written for.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, List, Optional, Union

from socketio import packet

from gateway import packet_json
from gateway.executor_link import ExecutorLink
from gateway.handlers import Ack, handled, internal_error, observer_refusal, refused, sendable
from gateway.sessions import Sessions
from shared import nesting, protocol

log = logging.getLogger(__name__)

# An EVENT packet of the default namespace with an ack id, whose event is "process"; group 1
# is the id (python-socketio reads at most 100 digits), the JSON array starts at group 2.
_PROCESS_PACKET = re.compile(r'2([0-9]{1,99})(\["process"[,\]])')
# What python-socketio's Packet.encode calls (json.dumps with its separators), made once.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
Encoded = Union[str, List[Any]]


class FastCalls:
    def __init__(self, sio: Any, link: ExecutorLink, sessions: Sessions, call_timeout: float):
        self._sio, self._link, self._sessions = sio, link, sessions
        self._call_timeout = call_timeout
        self._stock: Callable[[str, Any], Any] = sio._handle_eio_message
        self._binary_packet: Any = None

    def install(self) -> bool:
        """Take over Engine.IO's 'message' handler, if python-socketio is what this module
        was written for; False (logged) leaves the stock path alone."""
        problem = self._mismatch()
        if problem is not None:
            log.warning("process calls take python-socketio's stock path: %s", problem)
            return False
        self._binary_packet = self._sio._binary_packet
        self._sio.eio.on("message", self.message)
        return True

    def _mismatch(self) -> Optional[str]:
        """What in this python-socketio differs from what the fast path relies on, or None."""
        sio = self._sio
        if sio.eio.handlers.get("message") != self._stock:
            return "Engine.IO's message handler is not python-socketio's _handle_eio_message"
        if not isinstance(getattr(sio, "_binary_packet", None), dict):
            return "python-socketio has no _binary_packet dict"
        if not all(callable(getattr(sio.manager, name, None))
                   for name in ("sid_from_eio_sid", "is_connected")):
            return "python-socketio's manager has no sid_from_eio_sid/is_connected"
        try:
            decoded = sio.packet_class(encoded_packet='212["process",{"a":[1]}]')
            ack = protocol.success("ok", {"a": [1, "é"]})
            stock_text = sio.packet_class(packet.ACK, namespace="/", id=7, data=[ack]).encode()
            stock_binary = sio.packet_class(packet.ACK, namespace="/", id=7,
                                            data=[protocol.success("ok", b"\0")]).encode()
        except Exception as e:       # an API that changed
            return "python-socketio's Packet differs (%s: %s)" % (type(e).__name__, e)
        if (decoded.packet_type, decoded.id, decoded.namespace or "/", decoded.data) \
                != (packet.EVENT, 12, "/", ["process", {"a": [1]}]):
            return "python-socketio decodes an EVENT packet differently"
        if stock_text != self._encode(7, ack) or not isinstance(stock_binary, list) \
                or stock_binary[1:] != [b"\0"]:
            return "python-socketio encodes an ACK packet differently"
        return None

    # -- in the websocket reader's greenlet -------------------------------------------------

    def message(self, eio_sid: str, data: Any) -> Any:
        """Engine.IO's 'message' handler: a process call here, everything else stock."""
        if not (isinstance(data, str) and self._called(eio_sid, data)):
            return self._stock(eio_sid, data)
        return None

    def _called(self, eio_sid: str, data: str) -> bool:
        """Handle ``data`` if it is a process call this path takes; False if it is not."""
        match = _PROCESS_PACKET.match(data)
        if match is None or eio_sid in self._binary_packet or self._link.instance is None:
            return False
        manager = self._sio.manager
        sid = manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not manager.is_connected(sid, "/"):
            return False
        try:
            args = packet_json.loads(data[match.start(2):])
        except ValueError:
            return False     # not JSON: python-socketio refuses it as it always does
        if not isinstance(args, list) or len(args) > 2:
            return False     # more than one payload: the stock handler answers as it does
        ack_id = int(match.group(1))

        def answer(ack: Ack) -> None:
            self._answer(eio_sid, ack_id, ack)

        payload = args[1] if len(args) == 2 else None
        # ["process", payload]: the array is one level more than the payload may have.
        shallow = nesting.shallow_json(data, nesting.MAX_DEPTH + 1)
        ack = (None if shallow else refused(args[1:])) or handled(self._process,
                                                                  (sid, payload, answer))
        if ack is not None:
            answer(ack)
        return True

    def _process(self, sid: str, payload: Any, answer: Callable[[Ack], None]) -> Optional[Ack]:
        """handlers.Handlers.process, answered through ``answer``; an ack if refused at once."""
        if self._sessions.role(sid) != protocol.CONTROLLER:
            return observer_refusal(protocol.PROCESS)
        obj, method, args = protocol.parse_process(payload)
        self._link.request_async("process", {"object": obj, "method": method, "args": args},
                                 answer, self._call_timeout)
        return None

    # -- in the hub (or the reader greenlet, for an answer given at once) --------------------

    def _answer(self, eio_sid: str, ack_id: int, ack: Ack) -> None:
        """Send the ACK packet; never blocks. Whatever fails, the call gets one answer."""
        if self._sio.manager.sid_from_eio_sid(eio_sid, "/") is None:
            return           # the client has left: nobody to answer
        try:
            self._send(eio_sid, self._encode(ack_id, ack))
        except Exception as e:
            fallback = internal_error("the reply to a process call", e)
            try:
                self._send(eio_sid, self._encode(ack_id, fallback))
            except Exception:
                log.exception("could not send the error reply to a process call either")

    def _encode(self, ack_id: int, ack: Ack) -> Encoded:
        """The ACK packet of ``sendable(ack)``: plain JSON text, or (bytes in the data, or not
        JSON) what python-socketio's Packet makes of it: a BINARY_ACK with attachments, or
        packet_json's error ack."""
        try:
            text = _ENCODER.encode([ack])
        except (TypeError, ValueError, RecursionError):
            encoded: Encoded = self._sio.packet_class(packet.ACK, namespace="/", id=ack_id,
                                                      data=[sendable(ack)]).encode()
            return encoded
        # [ack] is one level more than sendable allows the ack: the brackets of the text
        # bound its depth at once, and only an ack with many is walked.
        if not nesting.shallow_json(text, nesting.MAX_DEPTH + 2):
            checked = sendable(ack)
            if checked is not ack:
                text = _ENCODER.encode([checked])
        return "3%d%s" % (ack_id, text)

    def _send(self, eio_sid: str, encoded: Encoded) -> None:
        for part in encoded if isinstance(encoded, list) else (encoded,):
            self._sio.eio.send(eio_sid, part)
