"""The one place where a refused connection is logged, so every refusal has one shape.

``reason`` is one of ``unauthorized``, ``busy``, ``origin``, ``host``; ``detail`` starts
with its own separator (``" (...)"``) or is empty.
"""
from __future__ import annotations

import logging
from typing import Any, Dict

log = logging.getLogger(__name__)

REASONS = ("unauthorized", "busy", "origin", "host")


def refused(address: str, reason: str, detail: str = "") -> None:
    log.warning("refused %s: %s%s", address, reason, detail)


def address_of(environ: Dict[str, Any]) -> str:
    """The client's ``address:port`` from a WSGI environ."""
    return "%s:%s" % (environ.get("REMOTE_ADDR", "?"), environ.get("REMOTE_PORT", "?"))
