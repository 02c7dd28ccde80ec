"""Assembling the gateway: the Socket.IO server on eventlet's WSGI server, the executor link,
the push relay, and the systemd glue. The watchdog is fed from a greenlet of the same hub
that serves everything, so a wedged hub stops the pings and systemd restarts the gateway."""
from __future__ import annotations

import logging
import os
import signal
import socket
from typing import Any, Dict, Optional

import eventlet
import eventlet.wsgi
import socketio

import shared
from gateway import packet_json, websocket_limits
from gateway.executor_link import ExecutorLink
from gateway.handlers import Handlers
from gateway.push_relay import PushRelay
from gateway.sessions import Sessions, read_token
from shared.config import Config
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


class Gateway:
    def __init__(self, config: Config):
        self.config = config
        self.notifier = Notifier()
        gw = config.gateway
        self.sessions = Sessions(read_token(gw.auth_token_file))
        self.sio = socketio.Server(
            async_mode="eventlet", max_http_buffer_size=gw.max_message_size,
            cors_allowed_origins=gw.cors_allowed_origins, ping_interval=gw.ping_interval,
            ping_timeout=gw.ping_timeout, logger=False, engineio_logger=False,
            json=packet_json)
        websocket_limits.enforce_frame_limit(self.sio.eio)
        self.app = socketio.WSGIApp(self.sio, static_files=console_files())
        self.link = ExecutorLink(config.ipc, gw.executor_start_timeout)
        self.relay = PushRelay(self.sio, gw.push_queue_size)
        self.handlers = Handlers(self.sio, self.link, self.sessions, self.relay, config)
        self.handlers.on_clients_changed = self.update_status
        self.link.on_executor_change = self._executor_changed
        self.link.on_push = self.handlers.relay_push
        self.link.on_peer_request = self.handlers.peer_request

    def _executor_changed(self) -> None:
        self.update_status()
        self.handlers.announce_executor()

    def serve(self, listener: Optional[Any] = None) -> None:
        gw = self.config.gateway
        listener = listener or eventlet.listen((gw.host, gw.port))
        # Accepted connections inherit it (Linux): a small write (an ack after an event)
        # must not wait for the client's delayed ACK (~40 ms) behind Nagle's algorithm.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.link.start()
        self.handlers.register()
        eventlet.spawn(self._feed_watchdog)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        host, port = listener.getsockname()[:2]
        log.info("robotctl gateway %s (pid %d) listening on http://%s:%d", shared.__version__,
                 os.getpid(), host, port)
        self.notifier.ready(self._status_line())
        eventlet.wsgi.server(listener, self.app, log_output=False, debug=False)

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
