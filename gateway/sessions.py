"""Who is connected: admission (token), roles (one controller, any observers), takeover.

The original protocol allows one client at a time, and that client is the controller.
Observers may watch alongside it. A refused connection raises ConnectionRefusedError with
``{code, holder}``, which the client sees in its ``connect_error``.
"""
from __future__ import annotations

import collections
import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Tuple

from socketio.exceptions import ConnectionRefusedError

from gateway import access_log
from gateway.access_throttle import AccessThrottle
from shared import error_codes, protocol
from shared.logsetup import NOTICE

log = logging.getLogger(__name__)

# Takeover keys remembered so that automatic reconnects (which resend the same auth) never
# honour the same takeover twice; bounded, oldest forgotten first.
REMEMBERED_TAKEOVERS = 256


class TokenFileError(Exception):
    pass


def read_token(path: Optional[str]) -> Optional[str]:
    """The access token from ``path``; None when authentication is disabled (path is None).

    A configured file that is missing, unreadable or empty is an error, never "auth off".
    """
    if path is None:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise TokenFileError("gateway.auth_token_file %s: %s" % (path, e.strerror)) from None
    if not token:
        raise TokenFileError("gateway.auth_token_file %s is empty" % path)
    return token


@dataclass
class Client:
    sid: str
    address: str
    since: float
    role: str
    takeover_key: str

    def describe(self) -> Dict[str, Any]:
        return {"address": self.address,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since))}


def refuse(code: str, message: str, **data: Any) -> ConnectionRefusedError:
    return ConnectionRefusedError(message, dict(data, code=code))


class Sessions:
    def __init__(self, token: Optional[str], throttle: AccessThrottle):
        self._token = token
        self.throttle = throttle
        self.controller: Optional[Client] = None
        self.observers: Dict[str, Client] = {}
        self._used_takeovers: Deque[str] = collections.deque(maxlen=REMEMBERED_TAKEOVERS)

    @property
    def auth_required(self) -> bool:
        return self._token is not None

    def admit(self, sid: str, environ: Dict[str, Any], auth: Any) -> Tuple[Client, Optional[Client]]:
        """Admit the client; return it and the controller it evicted, if it took over.

        Raises ConnectionRefusedError with code "unauthorized" or "busy".
        """
        auth = auth if isinstance(auth, dict) else {}
        address = access_log.address_of(environ)
        self._check_token(auth, environ.get("REMOTE_ADDR", "?"), address)
        role = auth.get("role") or protocol.CONTROLLER
        if role not in protocol.ROLES:
            access_log.refused(address, "invalid", " (role %r)" % (role,))
            raise refuse(error_codes.INVALID_ROLE, "invalid role %r: use controller or observer" % (role,))
        client = Client(sid, address, time.time(), role, _takeover_key(auth, environ))
        if role == protocol.OBSERVER:
            self.observers[sid] = client
            return client, None
        evicted = None
        if self.controller is not None:
            if not self._may_take_over(auth, client):
                access_log.refused(address, protocol.BUSY,
                                   " (%s controls the robot)" % self.controller.address)
                raise refuse(protocol.BUSY, "busy: another client controls the robot",
                             holder=self.controller.describe())
            evicted = self.controller
            self._used_takeovers.extend((client.takeover_key, evicted.takeover_key))
            log.log(NOTICE, "%s took over the robot from %s", address, evicted.address)
        self.controller = client
        return client, evicted

    def _may_take_over(self, auth: Dict[str, Any], client: Client) -> bool:
        # An evicted client reconnecting automatically resends its auth: neither its key nor
        # one already honoured may take over again.
        return bool(auth.get("takeover")) and client.takeover_key not in self._used_takeovers

    def leave(self, sid: str) -> Optional[Client]:
        """Forget ``sid``; return it if it was the controlling client."""
        self.observers.pop(sid, None)
        if self.controller is not None and self.controller.sid == sid:
            client, self.controller = self.controller, None
            return client
        return None

    def client(self, sid: str) -> Optional[Client]:
        """The admitted client ``sid``, controller or observer."""
        if self.controller is not None and self.controller.sid == sid:
            return self.controller
        return self.observers.get(sid)

    def role(self, sid: str) -> Optional[str]:
        client = self.client(sid)
        return client.role if client is not None else None

    def set_token(self, token: str) -> None:
        """Admit with ``token`` from now on (the token was rotated)."""
        self._token = token

    def clients(self) -> List[Client]:
        """Every admitted client, the controller first."""
        return ([self.controller] if self.controller else []) + list(self.observers.values())

    def _check_token(self, auth: Dict[str, Any], host: str, address: str) -> None:
        """Raise the "unauthorized" refusal unless ``auth`` has the token; an address that
        sent too many wrong tokens is refused without looking (and without a log line)."""
        if self._token is None:
            return
        if self.throttle.locked_out(host):
            raise refuse(protocol.UNAUTHORIZED, "unauthorized: too many wrong tokens from %s; "
                         "try again in %g s" % (host, self.throttle.period))
        if not self._authenticated(auth):
            access_log.refused(address, protocol.UNAUTHORIZED, " (missing or wrong token)")
            self.throttle.failed(host)
            raise refuse(protocol.UNAUTHORIZED, "unauthorized: connect with auth: {token: ...}")
        self.throttle.succeeded(host)

    def _authenticated(self, auth: Dict[str, Any]) -> bool:
        if self._token is None:
            return True
        given = auth.get("token")
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self._token.encode())


def _takeover_key(auth: Dict[str, Any], environ: Dict[str, Any]) -> str:
    """A fresh string id names one takeover; ``takeover: true`` falls back to the client's
    address and user agent, so it works once per client."""
    value = auth.get("takeover")
    if isinstance(value, str) and value:
        return "id:" + value
    return "peer:%s|%s" % (environ.get("REMOTE_ADDR", "?"), environ.get("HTTP_USER_AGENT", "?"))
