"""The Socket.IO wire format: event names, the reply shape, and typed readers of payloads.

Every ack the gateway sends has the shape ``{"status": "success"|"error", "message": str,
"data": ...}``; ``success()`` and ``error()`` build it. An error's data always carries
``code`` (shared.error_codes), so ``error()`` requires one. Payloads from clients are read
through the ``get_*`` helpers, so a malformed payload becomes one ``ProtocolError`` (turned
into an error reply by the gateway) and never a KeyError deep inside.
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any, Dict, List, Optional, Tuple, Union

from shared import error_codes

# Events a client sends. The first three are the original protocol's.
UPDATE = "update"                  # {data: <zip: binary or base64>} (alias zip_data)
START = "start"                    # {}
PROCESS = "process"                # {params: {object, method, args}}
DESCRIBE = "describe"              # {} -> the project's objects and methods
STATUS = "status"                  # {} -> versions, uptimes, project, who is connected
UPLOAD_BEGIN = "upload_begin"      # {size, sha256, name} -> {offset, chunk_size}
UPLOAD_CHUNK = "upload_chunk"      # {offset, data: <base64, <= 1 MiB decoded>} -> {received}
UPLOAD_COMMIT = "upload_commit"    # {} -> exactly what update replies
SUBSCRIBE = "subscribe"            # {rates: {event: events/s | 0 | null}} -> {rates}
CLIENT_EVENTS = (UPDATE, START, PROCESS, DESCRIBE, STATUS, UPLOAD_BEGIN, UPLOAD_CHUNK,
                 UPLOAD_COMMIT, SUBSCRIBE)
# What an observer may not do: everything that changes or moves the robot.
CONTROL_EVENTS = frozenset((UPDATE, START, PROCESS, UPLOAD_BEGIN, UPLOAD_CHUNK, UPLOAD_COMMIT))
CHUNK_SIZE = 1024 * 1024
MAX_SUBSCRIBED_EVENTS = 1000       # event names one subscribe may name

# Connect-time auth: {token, role: "controller"|"observer", takeover: <fresh id>|true}.
CONTROLLER = "controller"
OBSERVER = "observer"
ROLES = (CONTROLLER, OBSERVER)
# ConnectionRefusedError data codes.
UNAUTHORIZED = error_codes.UNAUTHORIZED
BUSY = error_codes.BUSY

# Events the server emits itself all carry this prefix, so they never collide with an event
# name that a user project pushes.
SYSTEM_PREFIX = "robotctl:"
SERVER_INFO = SYSTEM_PREFIX + "server_info"          # after connect, and when the executor changes
SESSION_TAKEN = SYSTEM_PREFIX + "session_taken"      # {by, time}: you were taken over
PROJECT_ROLLED_BACK = SYSTEM_PREFIX + "project_rolled_back"   # {from, to, reason}
PUSH_DROPPED = SYSTEM_PREFIX + "push_dropped"        # {count, by_event}: a slow client lost these
LOG = SYSTEM_PREFIX + "log"                          # {stream, text, time}: the project's output
LOG_DROPPED = SYSTEM_PREFIX + "log_dropped"          # {count}: lines over the rate limit
# robotctl:log lines of an update's requirements install (pip's output) start with this.
INSTALL_LOG_PREFIX = "[pip] "
# Why the executor last (re)started, in server_info.last_restart.reason.
RESTART_REASONS = ("boot", "update", "crash", "watchdog", "manual", "rollback", "reload")

# Names that push_message refuses: the protocol's own events, Socket.IO's reserved names,
# and "callback", which the original protocol keeps for later (the server never emits it).
RESERVED_EVENTS = frozenset(CLIENT_EVENTS + (
    "callback", "connect", "connect_error", "disconnect", "message",
    "reconnect", "reconnect_attempt", "ping", "pong", "error",
))

SUCCESS = "success"
ERROR = "error"

Args = Union[None, List[Any], Dict[str, Any]]


class ProtocolError(Exception):
    """A client payload is malformed; str(e) says what is wrong, for the error reply, and
    ``code`` what a frontend switches on (invalid_payload unless a step says more)."""

    def __init__(self, message: str, code: str = error_codes.INVALID_PAYLOAD):
        super().__init__(message)
        self.code = code


def _reply(status: str, message: str, data: Any = None) -> Dict[str, Any]:
    """The one shape of every ack (an error's ``data`` comes from ``error_data``)."""
    return {"status": status, "message": message, "data": data}


def success(message: str, data: Any = None) -> Dict[str, Any]:
    return _reply(SUCCESS, message, data)


def error(message: str, data: Optional[Dict[str, Any]] = None, *, code: str) -> Dict[str, Any]:
    """An error ack: ``data`` (if any) with ``code`` added."""
    return _reply(ERROR, message, error_data(code, data))


def error_data(code: str, data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The data of an error reply: ``data`` and ``code``, one of error_codes.REPLY_CODES."""
    if code not in error_codes.REPLY_CODES:
        raise ValueError("%r is not an error code of the protocol (shared.error_codes)" % (code,))
    return dict(data or {}, code=code)


def error_code(ack: Any) -> Optional[str]:
    """The code of an error ack, else None (for a success, or what is not an ack)."""
    data = ack.get("data") if isinstance(ack, dict) and ack.get("status") == ERROR else None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def is_reply(value: Any) -> bool:
    return (isinstance(value, dict) and set(value) == {"status", "message", "data"}
            and value["status"] in (SUCCESS, ERROR) and isinstance(value["message"], str))


def check_push_event(name: Any) -> str:
    """Return ``name`` if a project may push an event by that name, else raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError("push_message: the event name must be a non-empty string, got %r" % (name,))
    if name in RESERVED_EVENTS:
        raise ValueError("push_message: %r is a reserved event name of the protocol" % name)
    if name.startswith(SYSTEM_PREFIX):
        raise ValueError("push_message: event names starting with %r are reserved for the server"
                         % SYSTEM_PREFIX)
    return name


# -- typed readers -------------------------------------------------------------------------

def get_payload(payload: Any) -> Dict[str, Any]:
    """The event's payload as a dict; a missing payload counts as ``{}``."""
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ProtocolError("the payload must be an object, got %s" % _json_type(payload))
    return payload


def get_str(obj: Dict[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError("%s%s must be a non-empty string, got %s"
                            % (where, key, _json_type(value)))
    return value


def get_dict(obj: Dict[str, Any], key: str) -> Dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise ProtocolError("%s must be an object, got %s" % (key, _json_type(value)))
    return value


def get_args(obj: Dict[str, Any], key: str = "args") -> Args:
    value = obj.get(key)
    if value is None or isinstance(value, (list, dict)):
        return value
    raise ProtocolError("params.args must be an object (keyword arguments), a list "
                        "(positional arguments) or null, got %s" % _json_type(value))


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
             str: "a string", list: "a list", dict: "an object", bytes: "binary data"}
    return names.get(type(value), type(value).__name__)


# -- the client events ---------------------------------------------------------------------

def parse_update(payload: Any) -> bytes:
    """``{data: <zip>}`` (or the original's alias ``zip_data``) -> the zip bytes. The zip is
    binary (a Socket.IO attachment: a browser's ArrayBuffer) or base64 text."""
    body = get_payload(payload)
    key = "data" if "data" in body else "zip_data"
    value = body.get(key)
    if isinstance(value, bytes):
        return value
    return decode_base64(get_str(body, key), key)


_BASE64_WHITESPACE = b" \t\n\r\f\v"
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/= \t\n\r\f\v]")
_SPACES = re.compile(r"[ \t\n\r\f\v]+")


def decode_base64(text: str, key: str) -> bytes:
    """Base64 as common tools write it: wrapped lines (GNU base64, openssl, MIME), a
    ``data:...;base64,`` prefix (FileReader.readAsDataURL), missing ``=`` padding.
    Anything else raises ProtocolError naming the cause and the offset in ``text``."""
    try:
        return base64.b64decode(text, validate=True)     # the common case, at C speed
    except (binascii.Error, ValueError):
        pass
    start = _data_uri_start(text, key)
    try:
        # bytes.translate drops the line breaks at C speed (a regex takes ~10x longer).
        compact = text[start:].encode("ascii").translate(None, _BASE64_WHITESPACE).rstrip(b"=")
        if len(compact) % 4 != 1:
            return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        pass
    raise ProtocolError("%s is not valid base64: %s" % (key, _base64_problem(text, start)))


def _data_uri_start(text: str, key: str) -> int:
    """Where the base64 starts: after a ``data:...;base64,`` prefix, else 0."""
    if text[:5].lower() != "data:":
        return 0
    comma = text.find(",")
    if comma < 0 or not text[:comma].lower().endswith(";base64"):
        raise ProtocolError("%s is a data: URI without ';base64,': only base64 data URIs are "
                            "accepted" % key)
    return comma + 1


def _base64_problem(text: str, start: int) -> str:
    """What is wrong with base64 that did not decode, and where (only on the error path)."""
    bad = _NOT_BASE64.search(text, start)
    if bad:
        return "%r at offset %d is not a base64 character" % (bad.group(), bad.start())
    padding = text.find("=", start)
    if padding >= 0 and _SPACES.sub("", text[padding:]).strip("="):
        return "padding '=' at offset %d is followed by more data" % padding
    return "it ends at offset %d in the middle of a byte (truncated?)" % len(text)


def parse_process(payload: Any) -> Tuple[Optional[str], str, Args]:
    """``{params: {object, method, args}}`` -> (object or None for a module function, method, args)."""
    params = get_dict(get_payload(payload), "params")
    obj = params.get("object")
    if obj is not None and not isinstance(obj, str):
        raise ProtocolError("params.object must be a string, got %s" % _json_type(obj))
    return (obj or None), get_str(params, "method", "params."), get_args(params)


def parse_subscribe(payload: Any) -> Dict[str, Optional[float]]:
    """``{rates: {event: events per second}}`` -> {event: rate, or None for full rate}.

    0 and null both mean full rate. System events (``robotctl:*``) cannot be thinned: a
    replaced log line or drop report would be lost without a trace."""
    rates = get_dict(get_payload(payload), "rates")
    if len(rates) > MAX_SUBSCRIBED_EVENTS:
        raise ProtocolError("rates names %d events; at most %d"
                            % (len(rates), MAX_SUBSCRIBED_EVENTS))
    parsed: Dict[str, Optional[float]] = {}
    for event, rate in rates.items():
        if not event or event.startswith(SYSTEM_PREFIX):
            raise ProtocolError("rates: %r is not an event a project pushes" % event)
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not math.isfinite(rate) or rate < 0):
            raise ProtocolError("rates.%s must be a number of events per second (>= 0) or "
                                "null, got %r" % (event, rate))
        parsed[event] = float(rate) if rate else None
    return parsed
