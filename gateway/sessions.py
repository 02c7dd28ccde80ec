"""Who is connected: admission (token), the one controlling client, and refusals.

The original protocol allows one client at a time; a second connection is refused at
connect time with a reason the client sees in its ``connect_error``.
"""
from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from socketio.exceptions import ConnectionRefusedError

log = logging.getLogger(__name__)


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

    def describe(self) -> Dict[str, Any]:
        return {"address": self.address,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since))}


def refuse(code: str, message: str, **data: Any) -> ConnectionRefusedError:
    return ConnectionRefusedError(message, dict(data, code=code))


class Sessions:
    def __init__(self, token: Optional[str]):
        self._token = token
        self.controller: Optional[Client] = None

    def admit(self, sid: str, environ: Dict[str, Any], auth: Any) -> Client:
        """Admit the client or raise ConnectionRefusedError (code "unauthorized" or "busy")."""
        if not self._authenticated(auth):
            log.warning("refused %s: missing or wrong token", _address(environ))
            raise refuse("unauthorized", "unauthorized: connect with auth: {token: ...}")
        if self.controller is not None:
            log.info("refused %s: %s already controls the robot",
                     _address(environ), self.controller.address)
            raise refuse("busy", "busy: another client controls the robot",
                         holder=self.controller.describe())
        self.controller = Client(sid, _address(environ), time.time())
        return self.controller

    def leave(self, sid: str) -> Optional[Client]:
        """Forget ``sid``; return it if it was the controlling client."""
        if self.controller is not None and self.controller.sid == sid:
            client, self.controller = self.controller, None
            return client
        return None

    def _authenticated(self, auth: Any) -> bool:
        if self._token is None:
            return True
        given = auth.get("token") if isinstance(auth, dict) else None
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self._token.encode())


def _address(environ: Dict[str, Any]) -> str:
    return "%s:%s" % (environ.get("REMOTE_ADDR", "?"), environ.get("REMOTE_PORT", "?"))
