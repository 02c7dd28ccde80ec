"""Keep client libraries the gateway never uses out of its process.

``import socketio`` also imports its client side, and with it requests, websocket-client and
aiohttp whenever they are installed (the package ships them for its CLI): ~15 MiB of RSS in
a server that never opens a client connection. python-socketio/python-engineio (5.7 to at
least 5.18) import each of them in ``try: ... except ImportError``, and eventlet 0.33 does the
same with pyOpenSSL (the gateway serves plain HTTP), so refusing those imports costs nothing.

``install()`` must run first thing in the gateway process, before eventlet and socketio are
imported. It also turns off eventlet's green DNS resolver (dnspython, several MiB more; the
gateway resolves nothing but its own listen address, which the stock resolver handles).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Optional, Sequence

log = logging.getLogger(__name__)

# Top-level packages the gateway process never needs.
REFUSED = ("requests", "websocket", "aiohttp", "OpenSSL")


class RefuseImports:
    """A meta-path finder that makes ``import X`` (and ``X.sub``) raise ImportError."""

    def __init__(self, names: Sequence[str]):
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[Any]:
        if fullname.partition(".")[0] in self.names:
            raise ImportError("%s is not used by the robotctl gateway (see gateway.lean_imports)"
                              % fullname, name=fullname)
        return None


def install(names: Sequence[str] = REFUSED) -> None:
    """Refuse ``names`` in this process and disable green DNS. Idempotent."""
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    if any(isinstance(finder, RefuseImports) for finder in sys.meta_path):
        return
    loaded = sorted(name for name in names if name in sys.modules)
    if loaded:
        log.warning("already imported, so kept: %s", ", ".join(loaded))
    sys.meta_path.insert(0, RefuseImports(names))
