"""``gateway.max_message_size`` on the websocket: the real limit, and a log line when hit.

eventlet's websocket refuses a frame over its ``max_frame_length`` by closing the connection
with status 1009, silently: the transport allows no error reply.
- python-engineio ≥ 4.4 sets that limit to ``max_http_buffer_size`` (our max_message_size);
  bookworm's 4.3.4 does not, so eventlet's default of 8 MiB would cap every upload there.
  ``enforce_frame_limit()`` gives the server a websocket class that passes the limit.
- ``install()`` wraps the websocket's public ``close(close_data)`` so that this one case is
  logged with the setting to change.
"""
from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable, Optional, Tuple

log = logging.getLogger(__name__)

MESSAGE_TOO_BIG = 1009      # RFC 6455 close status


def install() -> bool:
    """Log oversized messages; True once the hook is in place. Idempotent."""
    from eventlet import websocket
    cls: Any = getattr(websocket, "RFC6455WebSocket", None)
    close = getattr(cls, "close", None)
    if close is None:
        log.warning("eventlet has no RFC6455WebSocket.close; oversized messages are not logged")
        return False
    if not getattr(close, "robotctl_logs_oversized", False):
        cls.close = _logging_close(close)
    return True


def _logging_close(close: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(close)
    def logging_close(self: Any, close_data: Optional[Tuple[int, str]] = None) -> Any:
        if close_data and close_data[0] == MESSAGE_TOO_BIG:
            environ = getattr(self, "environ", None) or {}
            log.warning("closed the connection of %s:%s: %s Raise gateway.max_message_size, "
                        "or send large projects with the chunked upload.",
                        environ.get("REMOTE_ADDR", "?"), environ.get("REMOTE_PORT", "?"),
                        close_data[1])
        return close(self, close_data)
    logging_close.robotctl_logs_oversized = True  # type: ignore[attr-defined]
    return logging_close


def enforce_frame_limit(eio_server: Any) -> None:
    """Make ``eio_server``'s websockets accept frames up to its max_http_buffer_size."""
    driver = eio_server._async["websocket"]
    if "server" in inspect.signature(driver.__init__).parameters:
        return      # python-engineio >= 4.4 passes max_frame_length itself
    limit = int(eio_server.max_http_buffer_size)

    class LimitedWebSocketWSGI(driver):  # type: ignore[misc,valid-type]
        def __init__(self, handler: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("max_frame_length", limit)
            super().__init__(handler, *args, **kwargs)

    # A per-server copy: the driver table itself is shared by every server in the process.
    eio_server._async = dict(eio_server._async, websocket=LimitedWebSocketWSGI)
