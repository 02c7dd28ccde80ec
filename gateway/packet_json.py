"""The JSON codec python-socketio uses for its packets, hardened so every event gets its ack.

python-socketio decodes a packet and encodes an ack outside the handlers, where ``acked``
cannot turn a failure into an error reply: a packet nested too deeply to decode would be
dropped without a reply, and an ack that cannot be encoded would leave its caller waiting
forever. So: an event whose payload cannot be decoded reaches its handler with the payload
``TOO_DEEP`` (which ``acked`` answers with an error), and an ack that cannot be encoded is
replaced by an error ack saying why.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from shared import error_codes, protocol

log = logging.getLogger(__name__)

# The event name at the start of an event packet's array: ``["name", ...``.
_EVENT_NAME = re.compile(r'\s*\[\s*("(?:[^"\\]|\\.)*")')


class _TooDeep:
    def __repr__(self) -> str:
        return "<a payload too deeply nested to decode>"


TOO_DEEP = _TooDeep()


def loads(text: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return json.loads(text, *args, **kwargs)
    except RecursionError:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if not text.lstrip().startswith("["):
            return TOO_DEEP
        match = _EVENT_NAME.match(text)
        try:
            name = json.loads(match.group(1)) if match else "*"
        except ValueError:
            name = "*"      # no event name to route by: the catch-all handler answers
        return [name, TOO_DEEP]


def dumps(value: Any, *args: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(value, *args, **kwargs)
    except (RecursionError, TypeError, ValueError) as e:
        # An ack packet's data is [reply]; anything else is not ours to rewrite.
        if not (isinstance(value, list) and len(value) == 1 and protocol.is_reply(value[0])):
            raise
        log.error("could not encode a reply (%s: %s); sent an error reply instead",
                  type(e).__name__, e)
        return json.dumps([protocol.error("the reply cannot be sent as JSON: %s: %s"
                                          % (type(e).__name__, e), code=error_codes.NOT_JSON)],
                          *args, **kwargs)
