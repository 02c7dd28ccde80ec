"""The audit line for every refused connection, in one place.

Each refusal is one warning, ``refused ADDRESS: REASON[DETAIL]``, where REASON is one word:
``unauthorized``, ``busy``, ``origin`` or ``host`` (``invalid`` for an unknown role), so that
``journalctl -u robotctl-gateway -g 'refused .*: unauthorized'`` finds them.
"""
from __future__ import annotations

import logging
from typing import Any, Dict

log = logging.getLogger(__name__)

REASONS = ("unauthorized", "busy", "origin", "host", "invalid")


def refused(address: str, reason: str, detail: str = "") -> None:
    """Log that the connection from ``address`` was refused for ``reason`` (one of REASONS);
    ``detail`` is appended as is (start it with a separator, e.g. " (wrong token)")."""
    log.warning("refused %s: %s%s", address, reason, detail)


def address_of(environ: Dict[str, Any]) -> str:
    """The client's ``address:port`` from a WSGI environ."""
    return "%s:%s" % (environ.get("REMOTE_ADDR", "?"), environ.get("REMOTE_PORT", "?"))
