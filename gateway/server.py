"""Assembling the gateway: the Socket.IO server on eventlet's WSGI server, the executor link,
the push relay, and the systemd glue. The watchdog is fed from a greenlet of the same hub
that serves everything, so a wedged hub stops the pings and systemd restarts the gateway."""
from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any, Dict, Optional

import eventlet
import eventlet.wsgi
import socketio

import shared
from gateway import client_sockets, packet_json, tls, websocket_limits
from gateway.access_throttle import AccessThrottle
from gateway.executor_link import ExecutorLink
from gateway.fast_calls import FastCalls
from gateway.handlers import Handlers
from gateway.http_guard import HttpGuard
from gateway.origin_policy import OriginPolicy
from gateway.push_relay import PushRelay
from gateway.sessions import Sessions, read_token
from gateway.token_watch import TokenWatch
from shared.config import Config
from shared.logsetup import NOTICE
from shared.systemd_notify import Notifier

log = logging.getLogger(__name__)


CONSOLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "console")


def console_files() -> Dict[str, Any]:
    """The web console: index.html at /, its scripts and styles under /console/."""
    return {
        "/": {"filename": os.path.join(CONSOLE_DIR, "index.html"),
              "content_type": "text/html; charset=utf-8"},
        "/console/": CONSOLE_DIR + "/",
    }


def tls_context(gw: Any) -> Optional[Any]:
    """The TLS server context when both files are configured; None for clear text."""
    if gw.tls_cert_file is None and gw.tls_key_file is None:
        return None
    if gw.tls_cert_file is None or gw.tls_key_file is None:
        raise tls.TlsConfigError("gateway.tls_cert_file and gateway.tls_key_file go together: "
                                 "set both, or neither")
    return tls.server_context(gw.tls_cert_file, gw.tls_key_file)


class Gateway:
    def __init__(self, config: Config):
        self.config = config
        self.notifier = Notifier()
        gw = config.gateway
        self.tls_context = tls_context(gw)
        throttle = AccessThrottle(eventlet.spawn_after, gw.lockout_failures, gw.lockout_seconds)
        # Read once: the token watch starts from the token the sessions admit with.
        self._token = read_token(gw.auth_token_file)
        self.sessions = Sessions(self._token, throttle)
        policy = OriginPolicy(gw.cors_allowed_origins, gw.allowed_hosts,
                              self.sessions.auth_required)
        # HttpGuard applies the origin policy before engine.io sees a request, so engine.io
        # is told to accept every origin that reaches it (and to answer with CORS headers).
        self.sio = socketio.Server(
            async_mode="eventlet", max_http_buffer_size=gw.max_message_size,
            cors_allowed_origins="*", ping_interval=gw.ping_interval,
            ping_timeout=gw.ping_timeout, logger=False, engineio_logger=False,
            json=packet_json)
        websocket_limits.enforce_frame_limit(self.sio.eio)
        self.app = HttpGuard(socketio.WSGIApp(self.sio, static_files=console_files()), policy,
                             CONSOLE_DIR)
        self.link = ExecutorLink(config.ipc, gw.executor_start_timeout,
                                 config.executor.event_buffer_bytes)
        self.relay = PushRelay(self.sio, gw.client_buffer_bytes, gw.stall_timeout)
        self.handlers = Handlers(self.sio, self.link, self.sessions, self.relay, config)
        self.handlers.on_clients_changed.add("gateway.update_status", self.update_status)
        self.link.on_executor_change.add("gateway.update_status", self.update_status)
        self.link.on_executor_change.add("handlers.announce_executor",
                                         self.handlers.announce_executor)
        self.link.on_push.add("handlers.relay_push", self.handlers.relay_push)
        self.link.on_peer_request.add("handlers.peer_request", self.handlers.peer_request)

    def serve(self, listener: Optional[Any] = None) -> None:
        gw = self.config.gateway
        listener = listener or eventlet.listen((gw.host, gw.port))
        client_sockets.tune_listener(listener)      # inherited by every client connection
        self.link.start()
        self.handlers.register()
        FastCalls(self.sio, self.link, self.sessions, self.handlers.call_timeout).install()
        self._watch_token()
        eventlet.spawn(self._feed_watchdog)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        host, port = listener.getsockname()[:2]
        log.info("robotctl gateway %s (pid %d) listening on %s://%s:%d", shared.__version__,
                 os.getpid(), "https" if self.tls_context else "http", host, port)
        self.notifier.ready(self._status_line())
        if self.tls_context is None:
            eventlet.wsgi.server(listener, self.app, log_output=False, debug=False)
            return
        # The listener is a plain socket (tls.py says why): tell the app it is https, which
        # the same-origin check compares with the page's Origin.
        eventlet.wsgi.server(listener, tls.https_origin(self.app), log_output=False, debug=False,
                             protocol=tls.protocol_for(self.tls_context),
                             environ={"wsgi.url_scheme": "https", "HTTPS": "on"})

    def _watch_token(self) -> None:
        path = self.config.gateway.auth_token_file
        if path is not None:
            watch = TokenWatch(path, self._token or "")
            watch.on_new_token.add("gateway.token_rotated", self._token_rotated)
            watch.start()

    def _token_rotated(self, token: str) -> None:
        """Admit with the new token; every client admitted with the old one must go."""
        self.sessions.set_token(token)
        clients = self.sessions.clients()
        log.log(NOTICE, "the access token changed; disconnecting %d client(s) admitted with "
                "the old one", len(clients))
        notice = {"by": None, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "reason": "token rotated"}
        for client in clients:
            self.handlers.end_session(client.sid, notice)

    def _feed_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        while interval:
            self.notifier.watchdog()
            eventlet.sleep(interval)

    def _stop(self, signum: int, frame: Any) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        self.notifier.stopping()
        # Nothing to flush: clients and the executor see their connections close.
        os._exit(0)

    def update_status(self) -> None:
        self.notifier.status(self._status_line())

    def _status_line(self) -> str:
        client = self.sessions.controller
        who = "controller %s connected" % client.address if client else "no controller connected"
        if self.sessions.observers:
            who += ", %d observer(s)" % len(self.sessions.observers)
        executor = "executor up" if self.link.instance else "waiting for the executor"
        return "%s; %s" % (who, executor)
