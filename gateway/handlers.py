"""The Socket.IO event handlers: validate at the edge, forward to the executor, ack.

Handlers only read payloads (through shared.protocol) and forward; every failure becomes an
error ack in one place, ``acked``. Unknown events get an error ack too.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Dict

import socketio

from gateway.executor_link import ExecutorLink, ExecutorUnavailable
from gateway.sessions import Sessions
from shared import protocol
from shared.config import Config

log = logging.getLogger(__name__)

# How long the gateway waits beyond max_execution_time before it gives up on a reply; the
# executor answers at the limit itself, this only guards against a wedged executor.
REPLY_MARGIN = 5.0


def acked(handler: Callable[..., Dict[str, Any]]) -> Callable[..., Dict[str, Any]]:
    """Turn anything a handler raises into an error ack of the one reply shape."""
    @functools.wraps(handler)
    def wrapper(*args: Any) -> Dict[str, Any]:
        try:
            return handler(*args)
        except protocol.ProtocolError as e:
            return protocol.error("invalid payload: %s" % e)
        except ExecutorUnavailable as e:
            return protocol.error(str(e))
        except Exception as e:
            log.exception("internal error in %s", handler.__name__)
            return protocol.error("internal error: %s: %s" % (type(e).__name__, e))
    return wrapper


class Handlers:
    def __init__(self, sio: socketio.Server, link: ExecutorLink, sessions: Sessions,
                 config: Config):
        self.sio, self.link, self.sessions, self.config = sio, link, sessions, config
        self.call_timeout = config.executor.max_execution_time + REPLY_MARGIN

    def register(self) -> None:
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on(protocol.UPDATE, acked(self.update))
        self.sio.on(protocol.START, acked(self.start))
        self.sio.on(protocol.PROCESS, acked(self.process))
        self.sio.on("*", acked(self.unknown))

    def connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> None:
        client = self.sessions.admit(sid, environ, auth)
        log.info("client %s connected", client.address)
        self.on_clients_changed()

    def disconnect(self, sid: str, *reason: Any) -> None:
        client = self.sessions.leave(sid)
        if client is None:
            return
        log.info("client %s disconnected; running the project's stop hooks", client.address)
        self.on_clients_changed()
        self.sio.start_background_task(self._stop_hooks)

    def _stop_hooks(self) -> None:
        try:
            ack = self.link.request("client_left", {}, timeout=self.call_timeout)
        except ExecutorUnavailable:
            return
        if ack["status"] != protocol.SUCCESS:
            log.warning("stop hooks: %s", ack["message"])

    def on_clients_changed(self) -> None:
        """Replaced by the server to update the systemd status line."""

    def update(self, sid: str, payload: Any = None) -> Dict[str, Any]:
        zip_bytes = protocol.parse_update(payload)
        old = self.link.instance
        ack = self.link.request("update", {}, blob=zip_bytes, timeout=self.call_timeout)
        if ack["status"] != protocol.SUCCESS:
            return ack
        timeout = self.config.gateway.executor_start_timeout
        if old is None or not self.link.wait_for_new_executor(old, timeout):
            return protocol.error("the project was installed, but the executor did not come "
                                  "back within %g s" % timeout, ack["data"])
        return protocol.success("Project updated and the executor restarted", ack["data"])

    def start(self, sid: str, payload: Any = None) -> Dict[str, Any]:
        protocol.get_payload(payload)
        return self.link.request("start", {}, timeout=self.call_timeout)

    def process(self, sid: str, payload: Any = None) -> Dict[str, Any]:
        obj, method, args = protocol.parse_process(payload)
        return self.link.request("process", {"object": obj, "method": method, "args": args},
                                 timeout=self.call_timeout)

    def unknown(self, event: str, sid: str, *payload: Any) -> Dict[str, Any]:
        return protocol.error("unknown event %r; the events are: %s"
                              % (event, ", ".join(protocol.CLIENT_EVENTS)))
