"""The Socket.IO event handlers: admit, validate at the edge, forward to the executor, ack.

Handlers only read payloads (through shared.protocol) and forward; every failure becomes an
error ack in one place, ``acked``, which also refuses payloads nested deeper than the
protocol's bound and replies that could not be encoded (see packet_json for the failures
outside the handler). Observers may look but not act: ``controller_only``. Unknown events
get an error ack too.
"""
from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any, Callable, Dict, Optional, TypeVar, Union

import socketio
from socketio.exceptions import ConnectionRefusedError

import shared
from gateway import client_sockets
from gateway.callbacks import EITHER, Callbacks
from gateway.chunked_upload import ChunkedUploads
from gateway.executor_link import ExecutorLink, ExecutorUnavailable
from gateway.packet_json import TOO_DEEP
from gateway.push_relay import PushRelay
from gateway.sessions import Client, Sessions
from shared import error_codes, nesting, protocol
from shared.config import Config
from shared.logsetup import NOTICE

log = logging.getLogger(__name__)

# How long the gateway waits beyond max_execution_time before it gives up on a reply; the
# executor answers at the limit itself, this only guards against a wedged executor.
REPLY_MARGIN = 5.0
Ack = Dict[str, Any]
T = TypeVar("T")


def acked(handler: Callable[..., Ack]) -> Callable[..., Ack]:
    """Turn anything a handler raises into an error ack of the one reply shape."""
    @functools.wraps(handler)
    def wrapper(*args: Any) -> Ack:
        return refused(args) or sendable(handled(handler, args))
    return wrapper


def refused(args: Any) -> Optional[Ack]:
    """The error ack for an event whose arguments are nested too deeply, else None."""
    if any(arg is TOO_DEEP or nesting.too_deep(arg) for arg in args):
        return protocol.error("invalid payload: %s" % nesting.describe(),
                              code=error_codes.INVALID_PAYLOAD)
    return None


def sendable(ack: Ack) -> Ack:
    """``ack``, or the error ack saying why it cannot be sent (the bound is on ack["data"])."""
    if nesting.too_deep(ack, nesting.MAX_DEPTH + 1):
        return protocol.error("the reply cannot be sent as JSON: %s" % nesting.describe(),
                              code=error_codes.NOT_JSON)
    return ack


def handled(handler: Callable[..., T], args: Any) -> Union[T, Ack]:
    """``handler(*args)``, or the error ack for what it raised."""
    try:
        return handler(*args)
    except protocol.ProtocolError as e:
        return protocol.error("invalid payload: %s" % e, code=e.code)
    except ExecutorUnavailable as e:
        return protocol.error(str(e), code=error_codes.EXECUTOR_UNAVAILABLE)
    except Exception as e:
        return internal_error(handler.__name__, e)


def internal_error(where: str, e: Exception) -> Ack:
    log.exception("internal error in %s", where)
    return protocol.error("internal error: %s: %s" % (type(e).__name__, e),
                          code=error_codes.INTERNAL_ERROR)


def observer_refusal(event: str) -> Ack:
    return protocol.error("observers cannot %s: connect as the controller, or take over" % event,
                          code=error_codes.OBSERVER)


class Handlers:
    def __init__(self, sio: socketio.Server, link: ExecutorLink, sessions: Sessions,
                 relay: PushRelay, config: Config):
        self.sio, self.link, self.sessions, self.relay = sio, link, sessions, relay
        self.config = config
        self.uploads = ChunkedUploads(config.executor.max_project_size,
                                      config.executor.max_project_files)
        self.call_timeout = config.executor.max_execution_time + REPLY_MARGIN
        # An update may install the project's requirements first (pip, up to install_timeout).
        self.update_timeout = self.call_timeout + config.executor.install_timeout
        self.started = time.time()
        # (): a client connected or left (registered by server.py; see gateway.callbacks).
        self.on_clients_changed = Callbacks("clients changed", EITHER)
        # Pushes the executor dropped while no gateway was connected, reported when the
        # gateway came back but before any client had: told to the next client.
        self._unreported_drops: Optional[Dict[str, Any]] = None

    def register(self) -> None:
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        events = {
            protocol.UPDATE: self.update, protocol.START: self.start,
            protocol.PROCESS: self.process, protocol.DESCRIBE: self.describe,
            protocol.STATUS: self.status, protocol.UPLOAD_BEGIN: self.upload_begin,
            protocol.UPLOAD_CHUNK: self.upload_chunk, protocol.UPLOAD_COMMIT: self.upload_commit,
            protocol.SUBSCRIBE: self.subscribe,
        }
        for event, handler in events.items():
            if event in protocol.CONTROL_EVENTS:
                handler = self._controller_only(event, handler)
            self.sio.on(event, acked(handler))
        self.sio.on("*", acked(self.unknown))

    def _controller_only(self, event: str, handler: Callable[..., Ack]) -> Callable[..., Ack]:
        @functools.wraps(handler)
        def wrapper(sid: str, *args: Any) -> Ack:
            if self.sessions.role(sid) != protocol.CONTROLLER:
                return observer_refusal(event)
            return handler(sid, *args)
        return wrapper

    # -- connections --------------------------------------------------------------------

    def connect(self, sid: str, environ: Any = None, auth: Any = None) -> Optional[Ack]:
        if self.sessions.role(sid) is not None:
            # An admitted client sent an *event* named "connect": python-socketio routes it
            # here; it must not re-admit anyone.
            return self.unknown("connect", sid)
        client, evicted = self.sessions.admit(sid, environ, auth)
        try:
            self._admitted(client, evicted, environ)
        except Exception:
            # The client never becomes connected, so no disconnect would free its slot.
            log.exception("connect failed after %s was admitted; freed its slot", client.address)
            self.relay.remove(sid)
            self.sessions.leave(sid)
            self.on_clients_changed.fire()
            raise ConnectionRefusedError("internal error while connecting; try again",
                                         {"code": error_codes.INTERNAL_ERROR}) from None
        return None

    def _admitted(self, client: Client, evicted: Optional[Client], environ: Any) -> None:
        sid = client.sid
        if evicted is not None:
            self.end_session(evicted.sid, {"by": client.address,
                                           "time": client.describe()["since"],
                                           "reason": "takeover"})
        # Queued, not emitted: the client's writer runs after the CONNECT packet is sent
        # (python-socketio 5.7.2 would send an emit made here before CONNECT).
        connection = client_sockets.connection_socket(environ or {})
        queue = self.relay.add(sid, client.address, connection)
        queue.put(protocol.SERVER_INFO, self.server_info(client))
        if self._unreported_drops is not None:
            queue.put(protocol.PUSH_DROPPED, self._unreported_drops)
            self._unreported_drops = None
        log.log(NOTICE if client.role == protocol.CONTROLLER else logging.INFO,
                "%s %s connected", client.role, client.address)
        self.on_clients_changed.fire()

    def end_session(self, sid: str, notice: Dict[str, Any]) -> None:
        """Tell ``sid`` why with ``robotctl:session_taken`` (``notice``), then disconnect it."""
        self.relay.send(sid, protocol.SESSION_TAKEN, notice)
        self.sio.start_background_task(self._evict, sid)

    def _evict(self, sid: str) -> None:
        self.relay.flush(sid)        # session_taken reaches the evicted client first
        self.sio.disconnect(sid)

    def disconnect(self, sid: str, *reason: Any) -> Optional[Ack]:
        if self.sio.manager.is_connected(sid, "/"):
            # An *event* named "disconnect" from a live client (at a real disconnect the
            # library has already marked the client as leaving).
            return self.unknown("disconnect", sid)
        self.relay.remove(sid)
        client = self.sessions.leave(sid)
        self.on_clients_changed.fire()
        if client is not None:
            log.info("controller %s disconnected; running the project's stop hooks",
                     client.address)
            self.sio.start_background_task(self._stop_hooks)
        return None

    def _stop_hooks(self) -> None:
        try:
            ack = self.link.request("client_left", {}, timeout=self.call_timeout)
        except ExecutorUnavailable:
            return
        if ack["status"] != protocol.SUCCESS:
            log.warning("stop hooks: %s", ack["message"])

    def server_info(self, client: Optional[Client] = None) -> Dict[str, Any]:
        hello = self.link.hello
        controller = self.sessions.controller
        return {
            "version": shared.__version__,
            "executor_instance": hello.instance if hello else None,
            "project": self.link.project,
            "last_restart": hello.last_restart if hello else None,
            "role": client.role if client else None,
            "auth_required": self.sessions.auth_required,
            "controller": controller.describe() if controller else None,
        }

    def announce_executor(self) -> None:
        """Tell every client that the executor (re)started, and why."""
        if self.link.hello is not None:
            for sid in self.relay.sids():
                self.relay.send(sid, protocol.SERVER_INFO, self.server_info(self.sessions.client(sid)))

    def relay_push(self, event: str, data: Any, latest: bool = False, size: int = 0) -> None:
        """A push from the executor, to every client; a drop report no client could see
        (the gateway just restarted) waits for the next client."""
        if event == protocol.PUSH_DROPPED and not self.relay.sids():
            self._unreported_drops = _merged_drops(self._unreported_drops, data)
            return
        self.relay.broadcast(event, data, latest, size)

    def peer_request(self, peer: bytes, request: Any) -> None:
        """A local service (robotctl-watch) asks for a command over the IPC socket."""
        if request.command != "reseed_default":
            ack = protocol.error("command %r is not available to local peers" % request.command,
                                 code=error_codes.UNKNOWN_COMMAND)
        else:
            ack = self._restarting_request("reseed_default", {})
        self.link.reply_to_peer(peer, request.id, ack)

    # -- events -------------------------------------------------------------------------

    def update(self, sid: str, payload: Any = None) -> Ack:
        return self._install(protocol.parse_update(payload))

    def _install(self, zip_bytes: bytes, name: Optional[str] = None) -> Ack:
        ack = self._restarting_request("update", {"name": name}, zip_bytes,
                                       timeout=self.update_timeout)
        if ack["status"] == protocol.SUCCESS:
            ack["message"] = "Project updated and the executor restarted"
        return ack

    def _restarting_request(self, command: str, args: Dict[str, Any],
                            blob: Optional[bytes] = None, timeout: Optional[float] = None) -> Ack:
        """Send a command after which the executor restarts; answer once the new one is up."""
        old, ack = self.link.request_to(command, args, blob=blob,
                                        timeout=timeout or self.call_timeout)
        if ack["status"] != protocol.SUCCESS or not (ack["data"] or {}).get("restarting", True):
            return ack
        start_timeout = self.config.gateway.executor_start_timeout
        if not self.link.wait_for_new_executor(old, start_timeout):
            return protocol.error("done, but the executor did not come back within %g s"
                                  % start_timeout, ack["data"], code=error_codes.RESTART_TIMEOUT)
        return ack

    def start(self, sid: str, payload: Any = None) -> Ack:
        protocol.get_payload(payload)
        # The executor tells everyone that the project is loaded (messages.ProjectState).
        return self.link.request("start", {}, timeout=self.call_timeout)

    def process(self, sid: str, payload: Any = None) -> Ack:
        obj, method, args = protocol.parse_process(payload)
        return self.link.request("process", {"object": obj, "method": method, "args": args},
                                 timeout=self.call_timeout)

    def describe(self, sid: str, payload: Any = None) -> Ack:
        protocol.get_payload(payload)
        # An observer never makes user code run: it describes what is loaded, if anything.
        load = self.sessions.role(sid) == protocol.CONTROLLER
        return self.link.request("describe", {"load": load}, timeout=self.call_timeout)

    def status(self, sid: str, payload: Any = None) -> Ack:
        protocol.get_payload(payload)
        executor = None
        if self.link.instance is not None:
            ack = self.link.request("status", {}, timeout=self.call_timeout)
            executor = ack["data"] if ack["status"] == protocol.SUCCESS else None
        controller = self.sessions.controller
        hello = self.link.hello
        return protocol.success("status", {
            "version": shared.__version__,
            "gateway": {"pid": os.getpid(), "uptime": time.time() - self.started},
            "executor": executor,
            "controller": controller.describe() if controller else None,
            "observers": len(self.sessions.observers),
            "last_restart": hello.last_restart if hello else None,
            "clients": self.relay.stats(),
        })

    def subscribe(self, sid: str, payload: Any = None) -> Ack:
        rates = self.relay.subscribe(sid, protocol.parse_subscribe(payload))
        return protocol.success("rates set", {"rates": rates})

    def upload_begin(self, sid: str, payload: Any = None) -> Ack:
        return protocol.success("upload ready", self.uploads.begin(payload))

    def upload_chunk(self, sid: str, payload: Any = None) -> Ack:
        return self.uploads.chunk(payload)

    def upload_commit(self, sid: str, payload: Any = None) -> Ack:
        return self._install(*self.uploads.commit())

    def unknown(self, event: str, *sid_and_payload: Any) -> Ack:
        # Also reached directly (an event literally named "*"), with fewer arguments.
        return protocol.error("unknown event %r; the events are: %s"
                              % (event, ", ".join(protocol.CLIENT_EVENTS)),
                              code=error_codes.UNKNOWN_EVENT)


def _merged_drops(earlier: Optional[Dict[str, Any]], report: Any) -> Dict[str, Any]:
    merged = dict(earlier or {"count": 0, "by_event": {}})
    by_event = dict(merged["by_event"])
    for event, count in (report.get("by_event") or {}).items():
        by_event[event] = by_event.get(event, 0) + count
    return {"count": merged["count"] + report.get("count", 0), "by_event": by_event}
