"""The IPC messages between gateway and executor: one definition each, encode and decode.

A message is a list of ZeroMQ frames: a compact JSON header, then for ``Request`` an optional
binary blob (the zip of an update), so large uploads are never base64'd or JSON-escaped twice.
Requests carry an ``id``; a ``Reply`` carries the id of the request it answers. An id is
unique across restarts of its sender: a per-boot nonce and a counter (``new_id_source``), so a
late reply meant for a gateway that has since restarted can never match a new call.

    command channel (gateway ROUTER <- executor DEALER):  Hello up, Request down
    callback channel (gateway PULL <- executor PUSH):      Reply, Push, ProjectState
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not JSON" % name)


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


class MessageError(Exception):
    """Frames that are not a valid message."""


def dumps(value: Any) -> bytes:
    """Strict JSON (no NaN/Infinity, which JavaScript clients cannot parse)."""
    return _encoder.encode(value).encode("utf-8")


def new_id_source(prefix: str = "") -> Callable[[], str]:
    """Request ids for one process boot: ``"<prefix><nonce>:<n>"``, n = 1, 2, ...

    The nonce is random per boot (not secrets: it loads OpenSSL, see shared/digest.py), so
    ids never repeat across restarts, as jupyter_client's session ids do not.
    """
    boot = prefix + os.urandom(6).hex() + ":"
    counter = itertools.count(1)
    return lambda: boot + str(next(counter))


def id_boot(request_id: str) -> str:
    """The boot part of a request id: what every id of one sender's boot shares."""
    return request_id.rpartition(":")[0]


@dataclass(frozen=True)
class Hello:
    """The executor introduces itself; sent on every (re)connection to the gateway.

    ``project`` is the current project's info, ``last_restart`` why this executor started:
    ``{reason: one of protocol.RESTART_REASONS, detail, time}``.
    """
    instance: str
    pid: int
    version: str
    project: Dict[str, Any]
    last_restart: Dict[str, Any]
    kind = "hello"

    def to_frames(self) -> List[bytes]:
        return [dumps({"t": self.kind, "instance": self.instance, "pid": self.pid,
                       "version": self.version, "project": self.project,
                       "last_restart": self.last_restart})]


@dataclass(frozen=True)
class Request:
    """A command for the executor. ``instance`` names the executor it is meant for."""
    id: str
    command: str
    args: Dict[str, Any]
    instance: str = ""
    blob: Optional[bytes] = None
    kind = "request"

    def to_frames(self) -> List[bytes]:
        header = dumps({"t": self.kind, "id": self.id, "command": self.command,
                        "args": self.args, "instance": self.instance})
        return [header] if self.blob is None else [header, self.blob]


@dataclass(frozen=True)
class Reply:
    """The answer to the Request with the same id, in the Socket.IO reply shape."""
    id: str
    status: str
    message: str
    data: Any = None
    kind = "reply"

    def to_frames(self) -> List[bytes]:
        """Raises TypeError/ValueError when ``data`` is not JSON-encodable."""
        return [dumps({"t": self.kind, "id": self.id, "status": self.status,
                       "message": self.message, "data": self.data})]

    def as_ack(self) -> Dict[str, Any]:
        return {"status": self.status, "message": self.message, "data": self.data}


@dataclass(frozen=True)
class Push:
    """An event for the connected client(s), from the project's push_message or the executor."""
    event: str
    data: Any = None
    kind = "push"

    def to_frames(self) -> List[bytes]:
        return [dumps({"t": self.kind, "event": self.event, "data": self.data})]


@dataclass(frozen=True)
class ProjectState:
    """The executor's project changed state (it was loaded): sent whenever that happens, so
    the gateway's ``server_info.project`` follows the executor and not the text of a reply."""
    project: Dict[str, Any]
    kind = "project"

    def to_frames(self) -> List[bytes]:
        return [dumps({"t": self.kind, "project": self.project})]


Message = Union[Hello, Request, Reply, Push, ProjectState]


def _field(header: Dict[str, Any], name: str, kind: type) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise MessageError("field %r must be %s" % (name, kind.__name__))
    return value


def decode(frames: List[bytes]) -> Message:
    """Frames -> message; raise MessageError for anything malformed."""
    if not frames:
        raise MessageError("empty message")
    try:
        header = _decode(frames[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MessageError("header is not JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise MessageError("header must be an object")
    kind = header.get("t")
    if kind == Reply.kind:
        return Reply(_field(header, "id", str), _field(header, "status", str),
                     _field(header, "message", str), header.get("data"))
    if kind == Push.kind:
        return Push(_field(header, "event", str), header.get("data"))
    if kind == Request.kind:
        instance = header.get("instance", "")
        if not isinstance(instance, str):
            raise MessageError("field 'instance' must be str")
        return Request(_field(header, "id", str), _field(header, "command", str),
                       _field(header, "args", dict), instance,
                       frames[1] if len(frames) > 1 else None)
    if kind == ProjectState.kind:
        return ProjectState(_field(header, "project", dict))
    if kind == Hello.kind:
        return Hello(_field(header, "instance", str), _field(header, "pid", int),
                     _field(header, "version", str), _field(header, "project", dict),
                     _field(header, "last_restart", dict))
    raise MessageError("unknown message type %r" % (kind,))
