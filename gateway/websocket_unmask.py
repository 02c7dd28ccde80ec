"""Fast unmasking of incoming websocket frames for eventlet's websocket server.

RFC 6455 clients mask every frame with a 4-byte key. eventlet (0.33 to at least 0.41) undoes
the mask one byte at a time in Python, in ``RFC6455WebSocket._apply_mask``: ~0.38 s per MiB,
which makes a 67 MiB project upload crawl at ~3.5 MiB/s. ``install()`` replaces that one
static method with the same computation done as a single integer XOR over the whole chunk.

The replacement is installed only if the method still has the signature and the behaviour
we expect; otherwise the library is left alone and a warning is logged (uploads are then
slow, never wrong).

Over TLS a socket read returns at most one TLS record (16 KiB), and eventlet's
``_get_bytes`` joins the pieces of a frame with ``data = data + d``: quadratic in the frame's
size (a 67 MiB frame would copy terabytes). ``install()`` also replaces it with reads into
one buffer of the frame's size.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Optional, Sequence

log = logging.getLogger(__name__)

_EXPECTED_PARAMETERS = ["data", "mask", "length", "offset"]
SMALL_READ = 64        # frame headers: one recv, no buffer


def apply_mask(data: bytes, mask: Sequence[int], length: Optional[int] = None,
               offset: int = 0) -> bytes:
    """XOR ``data[:length]`` with the 4-byte ``mask``, starting at byte ``offset`` of the key
    stream (a frame's payload arrives in chunks): what eventlet's ``_apply_mask`` computes."""
    if length is None:
        length = len(data)
    if length <= 0:
        return b""
    shift = offset % 4
    key = bytes(mask[(shift + i) % 4] for i in range(4))
    repeated = (key * (length // 4 + 1))[:length]
    payload = int.from_bytes(data[:length], "little")
    return (payload ^ int.from_bytes(repeated, "little")).to_bytes(length, "little")


apply_mask.robotctl_fast_unmask = True  # type: ignore[attr-defined]


def install() -> bool:
    """Patch eventlet's websocket frame unmasking; True if the fast version is in place.

    Idempotent. Leaves eventlet untouched (and logs a warning) if its ``_apply_mask`` is not
    the function this replacement was written for.
    """
    try:
        from eventlet import websocket
    except ImportError:
        log.warning("eventlet.websocket is not importable; websocket unmasking not patched")
        return False
    cls: Any = getattr(websocket, "RFC6455WebSocket", None)
    current = cls.__dict__.get("_apply_mask") if cls is not None else None
    if isinstance(current, staticmethod) and getattr(current.__func__, "robotctl_fast_unmask", False):
        return True
    problem = _unexpected(current, getattr(cls, "_recv_frame", None))
    if problem:
        log.warning("eventlet %s: not patching websocket unmasking (%s); large uploads "
                    "will be slow", getattr(_eventlet(), "__version__", "?"), problem)
        return False
    cls._apply_mask = staticmethod(apply_mask)
    _install_linear_reads(cls)
    return True


def get_bytes(self: Any, numbytes: int) -> bytes:
    """Read exactly ``numbytes`` from the websocket's socket (eventlet's ``_get_bytes``) into
    one buffer: linear however small the pieces, and no ``numbytes``-sized allocation per
    piece (``recv(n)`` allocates n bytes even when a TLS record brings 16 KiB)."""
    from eventlet.websocket import ConnectionClosedError
    if numbytes <= SMALL_READ:
        return _small_read(self.socket, numbytes, ConnectionClosedError)
    buffer = bytearray(numbytes)
    view = memoryview(buffer)
    received = 0
    while received < numbytes:
        count = self.socket.recv_into(view[received:], numbytes - received)
        if not count:
            raise ConnectionClosedError()
        received += count
    return bytes(buffer)


def _small_read(sock: Any, numbytes: int, closed: Any) -> bytes:
    data: bytes = sock.recv(numbytes)
    while len(data) < numbytes:      # rare: a header split across reads
        more = sock.recv(numbytes - len(data))
        if not more:
            raise closed()
        data += more
    return data


get_bytes.robotctl_linear_reads = True  # type: ignore[attr-defined]


def _install_linear_reads(cls: Any) -> None:
    current = cls.__dict__.get("_get_bytes")
    code = getattr(current, "__code__", None)
    if getattr(current, "robotctl_linear_reads", False):
        return
    if code is None or code.co_varnames[:2] != ("self", "numbytes") or "recv" not in code.co_names:
        log.warning("eventlet's websocket _get_bytes is not the one expected; not replaced "
                    "(large uploads over TLS will be slow)")
        return
    cls._get_bytes = get_bytes


def _unexpected(current: Any, recv_frame: Optional[Callable[..., Any]]) -> Optional[str]:
    """Why ``current`` is not the byte-by-byte ``_apply_mask`` we replace, or None."""
    if not isinstance(current, staticmethod):
        return "RFC6455WebSocket._apply_mask is missing or not a staticmethod"
    original = current.__func__
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return "the signature of _apply_mask cannot be read"
    if parameters != _EXPECTED_PARAMETERS:
        return "_apply_mask takes %s, expected %s" % (parameters, _EXPECTED_PARAMETERS)
    code = getattr(recv_frame, "__code__", None)
    if code is None or "_apply_mask" not in code.co_names:
        return "_recv_frame does not call _apply_mask"
    sample = bytes(range(7, 250, 3))
    for mask, length, offset in (((1, 2, 3, 4), None, 0), ((255, 0, 170, 85), 13, 6)):
        if original(sample, mask, length, offset) != apply_mask(sample, mask, length, offset):
            return "_apply_mask computes something else than XOR with the key"
    return None


def _eventlet() -> Any:
    import eventlet
    return eventlet
