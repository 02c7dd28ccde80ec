"""One Socket.IO session with the appliance, in one role, with refusals and acks made plain.

python-socketio 5.7.2's ``connect()`` only says "One or more namespaces failed to connect",
and only once its wait times out; the reason (busy and who holds the robot, or unauthorized)
arrives in the ``connect_error`` event. So the Socket.IO CONNECT is awaited here, ending at
``connect`` or ``connect_error``, and a refusal becomes the CliError the user sees at once.
Acks are awaited here too, so a connection lost mid-request fails at once, not at the timeout.
"""
from __future__ import annotations

import importlib.util
import socket
import threading
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

import socketio
from socketio import exceptions

from gateway.cli import trust
from gateway.cli.errors import APP_ERROR, CONNECT, UNAUTHORIZED, CliError
from gateway.cli.settings import Settings
from shared import protocol

# Seconds close() waits for python-socketio 5.7.2's writer to post the goodbye.
CLOSE_PATIENCE = 5.0

Listener = Callable[[str, Any], None]


class ConnectionLost(CliError):
    """The connection ended while a request waited for its ack."""

    def __init__(self, message: str):
        super().__init__(CONNECT, message)


class _Waiter:
    """One pending ack: set by the ack, or by the disconnect that means it will never come."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Any = None
        self.lost = False

    def answer(self, *args: Any) -> None:
        self.reply = args[0] if len(args) == 1 else list(args)
        self.done.set()

    def abandon(self) -> None:
        self.lost = True
        self.done.set()


class Connection:
    def __init__(self, settings: Settings, role: str, reconnect: bool = False):
        self.settings = settings
        self.role = role
        self._session = _tls_session(settings.url)
        self.client = socketio.Client(reconnection=reconnect, handle_sigint=False,
                                      logger=False, engineio_logger=False,
                                      http_session=self._session)
        self.on_lost: Optional[Callable[[], None]] = None      # called on an unplanned disconnect
        self.on_back: Optional[Callable[[], None]] = None      # called on a reconnect
        self._refusal: Any = None
        self._answered = threading.Event()    # the CONNECT got its answer, yes or no
        self._taken: Any = None
        self._closing = False
        self._connected = False     # ours: set and cleared with the waiters, under the lock
        self._ever_connected = False
        self._listeners: List[Listener] = []
        self._waiters: List[_Waiter] = []
        self._lock = threading.Lock()
        self.client.on("connect", self._do_connect)
        self.client.on("connect_error", self._do_connect_error)
        self.client.on("disconnect", self._do_disconnect)
        self.client.on("*", self._do_event)

    # -- opening and closing ------------------------------------------------------------

    def open(self) -> "Connection":
        if self._session is not None:
            self._trust_robot(self._session)
        auth: Dict[str, Any] = {"role": self.role}
        if self.settings.token is not None:
            auth["token"] = self.settings.token
        try:
            # wait=False: return once the transport is up; the CONNECT is awaited below.
            self.client.connect(self.settings.url, auth=auth,
                                transports=_transports(self._session is not None), wait=False)
        except (exceptions.ConnectionError, ValueError) as e:
            raise self._refused(str(e)) from None
        if not self._answered.wait(self.settings.timeout) or not self._connected:
            self.close()
            raise self._refused("no answer within %g s" % self.settings.timeout)
        return self

    def _trust_robot(self, session: Any) -> None:
        """How this https:// robot is trusted: --cafile, else its checked, pinned certificate."""
        if self.settings.cafile is not None:
            session.verify = self.settings.cafile
            return
        der = trust.fetch_certificate(self.settings.url, self.settings.timeout)
        trust.check(self.settings.url, der, self.settings.fingerprint, trust.terminal_ask())
        trust.pin_session(session, der)

    def close(self) -> None:
        """Disconnect, and stop a reconnect loop too (its threads would keep the process up)."""
        self._closing = True
        if hasattr(self.client, "shutdown"):          # python-socketio >= 5.9
            self.client.shutdown()
            return
        abort = getattr(self.client, "_reconnect_abort", None)    # 5.7.2 has only this
        if abort is not None:
            abort.set()
        # Also after a refusal, when the client no longer counts as connected but its
        # transport is still open; disconnecting a closed client does nothing.
        self.client.disconnect()
        # 5.7.2 leaves the goodbye in the queue of a background writer (abort=True): over
        # polling (https://) it would die with this process, and the robot would go on
        # moving until the ping timeout. Let the writer post it.
        writer = getattr(self.client.eio, "write_loop_task", None)
        if writer is not None:
            writer.join(CLOSE_PATIENCE)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def listen(self, listener: Listener) -> None:
        """Call ``listener(name, data)`` for every pushed event; register before ``open``."""
        self._listeners.append(listener)

    # -- requests -----------------------------------------------------------------------

    def request(self, event: str, payload: Any = None, timeout: Optional[float] = None) -> Any:
        """Send ``event`` and return the ack's data; CliError(APP_ERROR) on an error ack."""
        reply = self.ack(event, {} if payload is None else payload, timeout)
        if reply.get("status") != protocol.SUCCESS:
            raise CliError(APP_ERROR, str(reply.get("message") or "error"), reply.get("data"))
        return reply.get("data")

    def ack(self, event: str, payload: Any, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The raw ack of ``event``; ConnectionLost or CliError(CONNECT) when none comes."""
        timeout = self.settings.timeout if timeout is None else timeout
        waiter = _Waiter()
        with self._lock:
            if not self._connected:
                raise ConnectionLost(self._lost_message())
            self._waiters.append(waiter)
        try:
            self.client.emit(event, payload, callback=waiter.answer)
            if not waiter.done.wait(timeout):
                raise CliError(CONNECT, "no answer to %r within %g s (see --timeout)"
                               % (event, timeout))
        except exceptions.SocketIOError:
            raise ConnectionLost(self._lost_message()) from None
        finally:
            with self._lock:
                self._waiters.remove(waiter)
        if waiter.lost:
            raise ConnectionLost(self._lost_message())
        if not isinstance(waiter.reply, dict):
            raise CliError(APP_ERROR, "the appliance answered %r with %r" % (event, waiter.reply))
        return waiter.reply

    # -- handlers of the client's events ------------------------------------------------

    def _do_connect(self) -> None:
        with self._lock:
            self._connected = True
        self._answered.set()
        if self._ever_connected and self.on_back is not None:
            self.on_back()
        self._ever_connected = True

    def _do_connect_error(self, *args: Any) -> None:
        self._refusal = args[0] if args else None
        self._answered.set()

    def _do_disconnect(self, *reason: Any) -> None:
        with self._lock:
            self._connected = False
            for waiter in self._waiters:
                waiter.abandon()
        if not self._closing and self.on_lost is not None:
            self.on_lost()

    def _do_event(self, name: str, *args: Any) -> None:
        data = args[0] if len(args) == 1 else (list(args) if args else None)
        if name == protocol.SESSION_TAKEN:
            self._taken = data
        for listener in self._listeners:
            listener(name, data)

    # -- messages -----------------------------------------------------------------------

    def _lost_message(self) -> str:
        if isinstance(self._taken, dict) and self._taken.get("reason") == "token rotated":
            return ("the robot's access token was rotated (`sudo robotctl token` on the robot "
                    "prints the new one)")
        if isinstance(self._taken, dict):
            return "another client took over the robot (%s at %s)" % (
                self._taken.get("by"), self._taken.get("time"))
        return "the connection to %s was lost" % self.settings.url

    def _refused(self, fallback: str) -> CliError:
        return refusal_error(self._refusal, fallback, self.settings)


def speaks_tls(url: str) -> bool:
    """Does the server at this http:// URL answer clear text as a robotctl TLS port does?"""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=5) as probe:
            probe.sendall(b"HEAD /socket.io/ HTTP/1.0\r\n\r\n")
            return b"speaks TLS" in probe.recv(4096)
    except (OSError, ValueError):
        return False


def refusal_error(refusal: Any, fallback: str, settings: Settings) -> CliError:
    """The CliError for a failed connect, from the ``connect_error`` data when there is some."""
    if not isinstance(refusal, dict):
        reason = refusal if isinstance(refusal, str) and refusal else fallback
        if settings.url.startswith("http://") and speaks_tls(settings.url):
            reason += "; this port speaks TLS: use https://%s" % settings.url[len("http://"):]
        return CliError(CONNECT, "cannot connect to %s: %s" % (settings.url, reason))
    given_data = refusal.get("data")
    data = given_data if isinstance(given_data, dict) else {}
    message = str(refusal.get("message") or data.get("code") or "refused")
    if data.get("code") == protocol.UNAUTHORIZED:
        return CliError(UNAUTHORIZED, "%s refused the connection: %s; %s"
                        % (settings.url, message, _token_hint(settings)), data)
    holder = data.get("holder")
    if isinstance(holder, dict):
        message += " (held by %s since %s)" % (holder.get("address"), holder.get("since"))
    return CliError(CONNECT, "%s refused the connection: %s" % (settings.url, message), data)


def _token_hint(settings: Settings) -> str:
    if settings.token_problem:
        return settings.token_problem
    if settings.token is None:
        return ("give the robot's token with --token or $ROBOTCTL_TOKEN "
                "(`sudo robotctl token` on the robot prints it)")
    return "the token given is not the robot's (`sudo robotctl token` on the robot prints it)"


def _tls_session(url: str) -> Any:
    """For an https:// robot, the HTTP session whose ``verify`` names the CA file to trust;
    python-engineio gives the same file to the websocket. None for http://."""
    if not url.lower().startswith("https://"):
        return None
    import requests
    session = requests.Session()
    session.trust_env = False       # $REQUESTS_CA_BUNDLE would replace the CA file
    return session


def _transports(tls: bool) -> Optional[List[str]]:
    # WebSocket straight away when websocket-client is there (python3-websocket on Debian):
    # no polling round trips, and a 1 MiB upload chunk is one frame. Else long-polling.
    # Over TLS, long-polling only: websocket-client reads and writes one TLS connection from
    # two threads, and one call in a few hundred then never gets its reply (measured with
    # websocket-client 1.2 and 1.8 on OpenSSL 3.0); polling's requests use a connection each.
    if tls:
        return ["polling"]
    return ["websocket"] if importlib.util.find_spec("websocket") else None
