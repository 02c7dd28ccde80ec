"""Writing the websocket frames of one Engine.IO batch with one system call.

python-engineio's websocket writer takes every packet waiting in a client's queue (one
blocking ``get``, then non-blocking ones, writer_queue) and sends them one by one: one
``send`` system call per message. For a burst of small events that call is a quarter of the
gateway's CPU per event. So the frames of small messages that an Engine.IO writer sends are
gathered (``gather``, from websocket_send's ``send``) and written together when the writer
comes back to its queue (``flush_current``, from WriterQueue's blocking ``get``), together
with a large message (one ``sendmsg`` for the batch, the large frame's header and its
payload: a binary event's placeholder packet and its attachment leave in one system call),
or once BATCH_BYTES are gathered. Only a greenlet that is such a writer
gathers: any other ``send`` (the upgrade probe, a client socket) is written at once. The
frames are the same bytes in the same order; an ack or a PING in the batch leaves with it,
as soon as the writer has framed the batch. A write that fails is raised by the writer's
next ``send``, where python-engineio handles it, as if that send had failed.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Sequence, Union

import greenlet

log = logging.getLogger(__name__)

Buffer = Union[bytes, bytearray, memoryview]

BATCH_BYTES = 64 * 1024

# State lives in attributes (a weak dictionary's lookups cost more than a frame's write):
# on a writer greenlet, the websockets it has gathered frames for (at most one, in practice);
# on a websocket, its gathered frames and the error of a failed flush (raised by its next send).
WRITES_TO, GATHERED, FAILED = "_robotctl_writes_to", "_robotctl_gathered", "_robotctl_failed"


def writer_is_known() -> bool:
    """Whether python-engineio's websocket writer is a function named ``writer`` inside
    ``Socket._websocket_handler`` that takes its packets with ``Socket.poll`` (both library
    generations; how writer_queue recognises it); if not, nothing is gathered (logged)."""
    from engineio import socket as eio_socket
    handler = getattr(eio_socket.Socket, "_websocket_handler", None)
    nested = getattr(getattr(handler, "__code__", None), "co_consts", ())
    writer = [code for code in nested if getattr(code, "co_name", "") == "writer"]
    if not writer or "poll" not in writer[0].co_names:
        log.warning("python-engineio's websocket writer is not the one known here; its "
                    "frames are written one by one")
        return False
    return True


def flush_current() -> None:
    """The current greenlet is an Engine.IO writer coming back for more: write what it
    gathered (a failure is raised by its next send). From its first call on, it gathers."""
    current = greenlet.getcurrent()
    sockets = getattr(current, WRITES_TO, None)
    if sockets is None:
        setattr(current, WRITES_TO, [])
        return
    for ws in sockets:
        try:
            flush(ws)
        except Exception as e:     # the connection broke: the writer's next send says so
            setattr(ws, FAILED, e)
    del sockets[:]


def gather(ws: Any, header: bytes, payload: Buffer) -> bool:
    """Add a frame to ``ws``'s batch if the current greenlet is a writer; False otherwise
    (then the caller writes it, after ``flush``)."""
    sockets = getattr(greenlet.getcurrent(), WRITES_TO, None)
    if sockets is None:
        return False
    batch = getattr(ws, GATHERED, None)
    if batch is None:
        _raise_failure(ws)
        batch = bytearray()
        setattr(ws, GATHERED, batch)
    if ws not in sockets:
        sockets.append(ws)
    batch += header
    batch += payload
    if len(batch) >= BATCH_BYTES:
        flush(ws)
    return True


def flush(ws: Any, *more: Buffer) -> None:
    """Write what is gathered for ``ws`` now, followed by ``more`` (a message that is not
    gathered), in one write; raises the error of this write or of an earlier one that failed."""
    batch = getattr(ws, GATHERED, None)
    if batch is None:
        _raise_failure(ws)
        if more:
            write(ws, more)
        return
    setattr(ws, GATHERED, None)
    write(ws, (batch,) + more)


def write(ws: Any, pieces: Sequence[Buffer]) -> None:
    """Write ``pieces`` to ``ws``'s socket now, in order, under its send lock (as eventlet's
    send does). On a plain green TCP socket they go out together, with ``sendmsg``: a large
    frame, its header and the small frames before it cost one system call, not three, and
    nothing is joined (copied) first. A TLS socket writes them one by one."""
    ws._sendlock.acquire()
    try:
        sock = ws.socket
        if not _plain(sock):
            for piece in pieces:
                sock.sendall(piece)
            return
        views = [memoryview(piece) for piece in pieces]
        while views:
            # GreenSocket's own send loop: it waits on the hub while the kernel buffer is
            # full and raises as its sendall would.
            sent = sock._send_loop(sock.fd.sendmsg, views)
            while views and sent >= views[0].nbytes:
                sent -= views.pop(0).nbytes
            if sent:
                views[0] = views[0][sent:]
    finally:
        ws._sendlock.release()


def _plain(sock: Any) -> bool:
    """Whether ``sock`` is a green socket over a plain (not TLS) socket. Neither eventlet nor
    ``ssl`` is imported with this module: the gateway's entry point imports it before
    lean_imports keeps eventlet's optional imports out (~8 MiB of RSS), and without ``ssl``
    loaded no TLS socket exists."""
    from eventlet.greenio import GreenSocket     # loaded long before the first write
    if not isinstance(sock, GreenSocket):
        return False
    ssl = sys.modules.get("ssl")
    return ssl is None or not isinstance(sock.fd, ssl.SSLSocket)


def _raise_failure(ws: Any) -> None:
    error = getattr(ws, FAILED, None)
    if error is not None:
        setattr(ws, FAILED, None)
        raise error
