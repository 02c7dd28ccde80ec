"""``python3 -m gateway``: the Socket.IO server."""
from __future__ import annotations

import logging
import sys

from gateway import lean_imports, websocket_limits, websocket_send, websocket_unmask
from shared import logsetup, startup
from shared.config import ConfigError


def main() -> int:
    lean_imports.install()    # first: before eventlet and socketio are imported
    args = startup.arguments("python3 -m gateway", __doc__)
    logsetup.setup("gateway")
    log = logging.getLogger("gateway")
    from gateway.server import Gateway
    from gateway.sessions import TokenFileError
    from gateway.tls import TlsConfigError
    config = startup.load_config(args, lambda problem: log.critical("configuration error: %s",
                                                                    problem))
    if config is None:
        return startup.EX_CONFIG
    try:
        websocket_unmask.install()
        websocket_send.install()
        websocket_limits.install()
        gateway = Gateway(config)
    except (ConfigError, TokenFileError, TlsConfigError) as e:   # found while building it
        log.critical("configuration error: %s", e)
        return startup.EX_CONFIG
    gateway.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
