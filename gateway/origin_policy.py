"""Which browser pages and which Host names may reach the gateway.

Origin: a request without an ``Origin`` header (python-socketio, the CLI, curl) is not a
browser page and passes; a page served by the gateway itself (``Origin`` equal to the
request's own scheme and ``Host``) passes; so does any origin listed in
``gateway.cors_allowed_origins``, which *adds* to those two (engine.io's own list would
replace them). ``"*"`` allows every origin, and is refused at start-up without a token.

Host (dev mode only, when no token protects the robot): a page on an attacker's domain can
re-point that domain at the robot's address (DNS rebinding) and then be "same origin" with
it. Its requests still carry the attacker's name in ``Host``, so without a token only IP
literals, ``localhost``, this machine's host name, ``<hostname>.local`` and the names in
``gateway.allowed_hosts`` are served.
"""
from __future__ import annotations

import collections
import ipaddress
import socket
from typing import Any, Dict, Iterable, List, Optional, OrderedDict, Union

from shared.config import ConfigError

ANY = "*"
# Origins already logged as refused; bounded so that a flood of made-up origins costs a
# fixed amount of memory (the oldest is forgotten and may be logged again).
REMEMBERED_REFUSALS = 256


class Refusal(Exception):
    """A request the policy refuses: ``reason`` ("origin" or "host"), and what to do."""

    def __init__(self, reason: str, value: str, advice: str):
        super().__init__("%s %s is not allowed" % (reason, value))
        self.reason, self.value, self.advice = reason, value, advice


def normalise_origins(setting: Union[None, str, List[str]]) -> List[str]:
    if setting is None:
        return []
    items = [setting] if isinstance(setting, str) else list(setting)
    return [item.strip().rstrip("/").lower() for item in items]


def local_host_names(extra: Iterable[str] = ()) -> List[str]:
    hostname = socket.gethostname().lower().rstrip(".")
    names = {"localhost", hostname, hostname.split(".")[0] + ".local"}
    names.update(name.lower().rstrip(".") for name in extra)
    return sorted(names)


def host_name(host_header: str) -> str:
    """``robot.local:8000`` -> ``robot.local``; ``[::1]:8000`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class OriginPolicy:
    def __init__(self, cors_allowed_origins: Union[None, str, List[str]],
                 allowed_hosts: List[str], auth_required: bool):
        self.origins = normalise_origins(cors_allowed_origins)
        self.any_origin = ANY in self.origins
        if self.any_origin and not auth_required:
            raise ConfigError(
                'gateway.cors_allowed_origins: "*" lets any web page a visitor opens drive the '
                "robot through the visitor's browser; it needs a token "
                "(gateway.auth_token_file), which is not set")
        # Without a token nothing else stops DNS rebinding, so the Host is checked then.
        self.hosts: Optional[List[str]] = None if auth_required else local_host_names(allowed_hosts)
        self._logged: OrderedDict[str, None] = collections.OrderedDict()  # oldest first

    def check(self, environ: Dict[str, Any]) -> None:
        """Raise Refusal if this request may not be served."""
        self.check_host(environ)
        self.check_origin(environ)

    def check_host(self, environ: Dict[str, Any]) -> None:
        header = environ.get("HTTP_HOST")
        if self.hosts is None or not header:
            return
        name = host_name(header)
        if is_ip_literal(name) or name in self.hosts:
            return
        raise Refusal("host", header, "without a token only IP addresses and %s are served; "
                      "add the name to gateway.allowed_hosts" % ", ".join(self.hosts))

    def check_origin(self, environ: Dict[str, Any]) -> None:
        origin = environ.get("HTTP_ORIGIN")
        if not origin or self.any_origin:
            return
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins or origin in own_origins(environ):
            return
        raise Refusal("origin", origin, "to allow it, add it to gateway.cors_allowed_origins")

    def first_refusal(self, refusal: Refusal) -> bool:
        """True the first time this value is refused (so it is logged once)."""
        key = "%s %s" % (refusal.reason, refusal.value)
        if key in self._logged:
            return False
        self._logged[key] = None
        if len(self._logged) > REMEMBERED_REFUSALS:
            self._logged.popitem(last=False)
        return True


def own_origins(environ: Dict[str, Any]) -> List[str]:
    """The origins of pages the gateway serves itself (as engine.io's same-origin default)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    origins = []
    if environ.get("HTTP_HOST"):
        origins.append("%s://%s" % (scheme, environ["HTTP_HOST"].lower()))
    if environ.get("HTTP_X_FORWARDED_HOST"):
        forwarded_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
        forwarded_host = environ["HTTP_X_FORWARDED_HOST"].split(",")[0].strip().lower()
        origins.append("%s://%s" % (forwarded_scheme, forwarded_host))
    return origins
