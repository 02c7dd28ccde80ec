"""Sending large websocket messages without copying them, for eventlet's websocket server.

eventlet's ``RFC6455WebSocket.send`` packs every message into one new bytes object
(``b''.join((header, length, mask, message))``) and sends that: for a 100 KB camera frame, a
100 KB allocation and copy per frame and per client, before the kernel copies it once more.
And ``sendall`` resends the rest of a partial write as ``data[sent:]``, one more copy of the
rest each time the (deliberately small, see client_sockets) kernel buffer is full.

``install()`` replaces ``send`` with one that, for a server's unmasked, uncompressed message
of at least SPLIT_BYTES, writes the frames gathered before it, its frame header and the
message itself in one vectored write (websocket_batch.write: no join, no copies of the
rest), under the websocket's send lock like the original. A smaller message is framed the
same way and, from an Engine.IO writer, gathered with the rest of its batch
(websocket_batch). A memoryview (an attachment received without a copy) is sent as binary.
Everything else (permessage-deflate, a client's masked frames) goes through eventlet's own
``send``. The replacement is installed only if eventlet's ``_pack_message`` produces exactly
the header this module writes, small and large; otherwise the library is left alone and a
warning is logged.
"""
from __future__ import annotations

import logging
import struct
from typing import Any, Callable, Optional, Union

from gateway import websocket_batch

log = logging.getLogger(__name__)

SPLIT_BYTES = 16 * 1024
OPCODE_TEXT, OPCODE_BINARY, FINAL = 0x1, 0x2, 0x80


def frame_header(opcode: int, length: int) -> bytes:
    """RFC 6455 header of an unmasked, final, uncompressed frame of ``length`` bytes."""
    if length > 0xFFFF:
        return struct.pack("!BBQ", FINAL | opcode, 127, length)
    if length > 125:
        return struct.pack("!BBH", FINAL | opcode, 126, length)
    return struct.pack("!BB", FINAL | opcode, length)


def _make_send(original: Callable[..., None]) -> Callable[..., None]:
    def send(self: Any, message: Any, **kw: Any) -> None:
        if kw or self.client or self._get_permessage_deflate_enc() is not None \
                or not isinstance(message, (str, bytes, memoryview)):
            websocket_batch.flush(self)
            if isinstance(message, memoryview):      # eventlet frames bytes, not views
                message = bytes(message)
            return original(self, message, **kw)
        payload: Union[bytes, memoryview] = message.encode("utf-8") \
            if isinstance(message, str) else message
        opcode = OPCODE_TEXT if isinstance(message, str) else OPCODE_BINARY
        if len(payload) < SPLIT_BYTES:
            header = frame_header(opcode, len(payload))
            if not websocket_batch.gather(self, header, payload):
                websocket_batch.flush(self, header + payload)
            return
        websocket_batch.flush(self, frame_header(opcode, len(payload)), payload)
    send.robotctl_split_send = True  # type: ignore[attr-defined]
    return send


class _Packer:
    """What ``_pack_message`` needs of a websocket to pack a server's uncompressed frame."""

    client = False

    def _get_permessage_deflate_enc(self) -> None:
        return None


def _unexpected(cls: Any) -> Optional[str]:
    """Why eventlet's websocket does not pack frames as this module does, or None."""
    for name in ("send", "_pack_message", "_get_permessage_deflate_enc", "_send"):
        if not callable(getattr(cls, name, None)):
            return "RFC6455WebSocket.%s is missing" % name
    try:
        for sample in (b"\x07" * 70000, b"\x09" * SPLIT_BYTES, "\u00e9" * SPLIT_BYTES,
                       b"", b"\x05" * 125, b"\x06" * 126, "2", "4\u00e9" * 300):
            payload = sample.encode("utf-8") if isinstance(sample, str) else sample
            opcode = OPCODE_TEXT if isinstance(sample, str) else OPCODE_BINARY
            packed = cls._pack_message(_Packer(), sample, masked=False)
            if bytes(packed) != frame_header(opcode, len(payload)) + payload:
                return "_pack_message frames a %d-byte message differently" % len(payload)
    except Exception as e:    # any surprise in another version: leave it alone
        return "_pack_message failed on a sample (%s)" % e
    return None


def installed() -> bool:
    """Whether eventlet's websocket sends with this module's ``send`` (memoryviews too)."""
    try:
        from eventlet import websocket
    except ImportError:
        return False
    cls = getattr(websocket, "RFC6455WebSocket", None)
    return bool(getattr(getattr(cls, "send", None), "robotctl_split_send", False))


def install() -> bool:
    """Patch eventlet's websocket ``send``; True if the splitting version is in place.

    Idempotent. Leaves eventlet untouched (and logs a warning) if its framing is not the
    one this replacement writes."""
    try:
        from eventlet import websocket
    except ImportError:
        log.warning("eventlet.websocket is not importable; websocket send not patched")
        return False
    cls = getattr(websocket, "RFC6455WebSocket", None)
    if cls is None:
        log.warning("eventlet has no RFC6455WebSocket; websocket send not patched")
        return False
    if getattr(cls.send, "robotctl_split_send", False):
        return True
    problem = _unexpected(cls)
    if problem:
        log.warning("not patching eventlet's websocket send (%s); large frames are copied "
                    "once more", problem)
        return False
    cls.send = _make_send(cls.send)
    return True
