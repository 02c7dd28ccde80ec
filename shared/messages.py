"""The IPC messages between gateway and executor: one definition each, encode and decode.

A message is a list of ZeroMQ frames: a compact JSON header, then one frame per binary value
(``bytes``, ``bytearray``, ``memoryview``) found anywhere inside it: a pushed camera frame, a
method's PNG, an update's zip. The header holds a placeholder ``{"_placeholder":true,"num":N}``
where the N-th attachment frame goes (Socket.IO's own scheme), so binary data is never
base64'd or JSON-escaped; decoding puts ``bytes`` back in place.
Requests carry an ``id``; a ``Reply`` carries the id of the request it answers. An id is
unique across restarts of its sender: a per-boot nonce and a counter (``new_id_source``), so a
late reply meant for a gateway that has since restarted can never match a new call.

    command channel (gateway ROUTER <- executor DEALER):  Hello up, Request and Consumed down
    callback channel (gateway PULL <- executor PUSH):      Reply, Push, ProjectState
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

from shared import protocol

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


# -- binary attachments ----------------------------------------------------------------------

BINARY = (bytes, bytearray, memoryview)
PLACEHOLDER = "_placeholder"


def encode_frames(header: Dict[str, Any]) -> List[bytes]:
    """``header`` as JSON, each binary value in it replaced by a placeholder, then the values
    themselves as frames, in the order JSON meets them. Raises TypeError/ValueError for values
    JSON cannot carry."""
    try:
        return [dumps(header)]        # the common case, at full speed
    except TypeError:
        pass                          # binary inside (or a value JSON cannot carry at all)
    attachments: List[bytes] = []

    def attach(value: Any) -> Any:      # a JSONEncoder.default hook
        if not isinstance(value, BINARY):
            return _encoder.default(value)       # raises the usual TypeError
        attachments.append(value if isinstance(value, bytes) else bytes(value))
        return {PLACEHOLDER: True, "num": len(attachments) - 1}

    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False,
                               default=attach)
    return [encoder.encode(header).encode("utf-8")] + attachments


def _parse_header(frames: List[bytes]) -> Any:
    """The JSON of frame 0 with every placeholder replaced by its attachment frame."""
    # (attachments received without a copy are memoryviews: values are always bytes)
    attachments = [a if isinstance(a, bytes) else bytes(a) for a in frames[1:]]
    if not attachments:
        return _decode(frames[0].decode("utf-8"))
    used: List[int] = []

    def restore(obj: Dict[str, Any]) -> Any:
        if obj.get(PLACEHOLDER) is not True:
            return obj
        num = obj.get("num")
        if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < len(attachments):
            raise MessageError("placeholder %r names no attachment (there are %d)"
                               % (obj, len(attachments)))
        used.append(num)
        return attachments[num]

    header = json.JSONDecoder(parse_constant=_reject_constant,
                              object_hook=restore).decode(frames[0].decode("utf-8"))
    if sorted(used) != list(range(len(attachments))):
        raise MessageError("the placeholders %r do not name each of the %d attachments once"
                           % (used, len(attachments)))
    return header


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
    """A command for the executor. ``instance`` names the executor it is meant for; ``blob``
    (the zip of an update) travels as an attachment like any binary value in ``args``."""
    id: str
    command: str
    args: Dict[str, Any]
    instance: str = ""
    blob: Optional[bytes] = None
    kind = "request"

    def to_frames(self) -> List[bytes]:
        header: Dict[str, Any] = {"t": self.kind, "id": self.id, "command": self.command,
                  "args": self.args, "instance": self.instance}
        if self.blob is not None:
            header["blob"] = self.blob
        return encode_frames(header)


@dataclass(frozen=True)
class Reply:
    """The answer to the Request with the same id, in the Socket.IO reply shape: an error's
    data is an object with its ``code`` (shared.error_codes), or the Reply is not made
    (MessageError), so every error reaches the client with its code."""
    id: str
    status: str
    message: str
    data: Any = None
    kind = "reply"

    def __post_init__(self) -> None:
        if self.status == protocol.ERROR and protocol.error_code(self.as_ack()) is None:
            raise MessageError("an error reply's data must be an object with a string 'code'")

    @classmethod
    def of(cls, request_id: str, ack: Dict[str, Any]) -> "Reply":
        """The reply to ``request_id`` carrying ``ack`` (from protocol.success/error)."""
        return cls(request_id, ack["status"], ack["message"], ack["data"])

    def to_frames(self) -> List[bytes]:
        """Raises TypeError/ValueError when ``data`` is not JSON-encodable (binary values are
        attachments)."""
        return encode_frames({"t": self.kind, "id": self.id, "status": self.status,
                              "message": self.message, "data": self.data})

    def as_ack(self) -> Dict[str, Any]:
        return {"status": self.status, "message": self.message, "data": self.data}


class EncodedValue:
    """A value as it travels: its JSON (binary values replaced by placeholders) and the
    attachments, not parsed. The gateway forwards a push's data like this: the JSON becomes
    the client's Socket.IO packet as it is (gateway/push_packets), without a decode and a
    re-encode per push."""
    __slots__ = ("json", "attachments")

    def __init__(self, json_text: bytes, attachments: List[bytes]):
        self.json, self.attachments = json_text, attachments

    def value(self) -> Any:
        """The value itself (attachments as ``bytes``); MessageError if malformed."""
        try:
            return _parse_header([self.json] + self.attachments)
        except (UnicodeDecodeError, ValueError) as e:
            raise MessageError("data is not JSON: %s" % e) from None


@dataclass(frozen=True)
class Push:
    """An event for the connected client(s), from the project's push_message or the executor.

    ``latest``: only the newest value of this event matters (a camera frame, a pose); a
    client that cannot keep up gets the newest one, never a backlog.
    Frames: the header (without the data), a newline and the data's JSON in the first, then
    the data's attachments: so the gateway reads the event's name and ``latest`` without
    parsing the data. (Compact JSON has no raw newline: the first one ends the header.)
    """
    event: str
    data: Any = None
    latest: bool = False
    kind = "push"

    def to_frames(self) -> List[bytes]:
        # The header is dumps({"t": "push", "event": ..., ["latest": true]}), spelt out: a
        # push is the executor's most frequent message.
        frames = encode_frames(self.data)
        frames[0] = b"".join((_PUSH_HEAD, dumps(self.event),
                              _LATEST_TAIL if self.latest else _TAIL, frames[0]))
        return frames


_PUSH_HEAD, _LATEST_TAIL, _TAIL = b'{"t":"push","event":', b',"latest":true}\n', b'}\n'


@dataclass(frozen=True)
class ProjectState:
    """The executor's project changed state (it was loaded): sent whenever that happens, so
    the gateway's ``server_info.project`` follows the executor and not the text of a reply."""
    project: Dict[str, Any]
    kind = "project"

    def to_frames(self) -> List[bytes]:
        return [dumps({"t": self.kind, "project": self.project})]


@dataclass(frozen=True)
class Consumed:
    """The gateway has read ``nbytes`` more bytes (wire field ``bytes``) off the callback
    channel since its last Consumed: the executor's credit for what it may have outstanding
    (executor/send_credit.py). Sent every quarter of ``executor.event_buffer_bytes``, never
    per message."""
    nbytes: int
    kind = "consumed"

    def __post_init__(self) -> None:
        if self.nbytes < 0:
            raise MessageError("field 'bytes' must not be negative")

    def to_frames(self) -> List[bytes]:
        return [dumps({"t": self.kind, "bytes": self.nbytes})]


Message = Union[Hello, Request, Reply, Push, ProjectState, Consumed]


def frames_size(frames: List[bytes]) -> int:
    """A message's bytes on the IPC: what the callback channel's byte bound counts."""
    return sum(len(frame) for frame in frames)


def _is_push(first: bytes) -> bool:
    """Whether frame 0 starts with a Push's header, as Push.to_frames writes it: its
    attachments belong to its data, not to the header (any other spelling is not a valid
    Push)."""
    return first.startswith(b'{"t":"push",')


def _field(header: Dict[str, Any], name: str, kind: type) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise MessageError("field %r must be %s" % (name, kind.__name__))
    return value


def _push(header: Dict[str, Any], data_json: bytes, frames: List[bytes],
          parse_data: bool) -> Push:
    data = EncodedValue(data_json, frames[1:])
    if parse_data:
        value = data.value()
    elif data.attachments and data.json.count(PLACEHOLDER_JSON) != len(data.attachments):
        raise MessageError("the data's placeholders do not match its %d attachments"
                           % len(data.attachments))
    return Push(_field(header, "event", str), value if parse_data else data,
                header.get("latest") is True)


# How encode_frames writes a placeholder: in JSON text it cannot be part of a string.
PLACEHOLDER_JSON = b'{"_placeholder":true,"num":'


def decode(frames: List[bytes], parse_push_data: bool = True) -> Message:
    """Frames -> message; raise MessageError for anything malformed. With
    ``parse_push_data`` False a Push's data is left an EncodedValue (the gateway's relay)."""
    if not frames:
        raise MessageError("empty message")
    data_json = b""
    try:
        if _is_push(frames[0]):
            head, newline, data_json = frames[0].partition(b"\n")
            if not newline:
                raise MessageError("a push has no data")
            header = _decode(head.decode("utf-8"))
        else:
            header = _parse_header(frames)
    except (UnicodeDecodeError, ValueError) as e:
        raise MessageError("header is not JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise MessageError("header must be an object")
    kind = header.get("t")
    if kind == Reply.kind:
        return Reply(_field(header, "id", str), _field(header, "status", str),
                     _field(header, "message", str), header.get("data"))
    if kind == Push.kind:
        return _push(header, data_json, frames, parse_push_data)
    if kind == Request.kind:
        instance = header.get("instance", "")
        if not isinstance(instance, str):
            raise MessageError("field 'instance' must be str")
        blob = header.get("blob")
        if blob is not None and not isinstance(blob, bytes):
            raise MessageError("field 'blob' must be an attachment")
        return Request(_field(header, "id", str), _field(header, "command", str),
                       _field(header, "args", dict), instance, blob)
    if kind == ProjectState.kind:
        return ProjectState(_field(header, "project", dict))
    if kind == Consumed.kind:
        return Consumed(_field(header, "bytes", int))
    if kind == Hello.kind:
        return Hello(_field(header, "instance", str), _field(header, "pid", int),
                     _field(header, "version", str), _field(header, "project", dict),
                     _field(header, "last_restart", dict))
    raise MessageError("unknown message type %r" % (kind,))
