"""``python3 -m gateway``: the Socket.IO server."""
from __future__ import annotations

import argparse
import logging
import sys

from gateway import lean_imports, websocket_limits, websocket_send, websocket_unmask
from shared import config as config_module
from shared import logsetup


def main() -> int:
    lean_imports.install()    # first: before eventlet and socketio are imported
    parser = argparse.ArgumentParser(prog="python3 -m gateway", description=__doc__)
    config_module.add_arguments(parser)
    args = parser.parse_args()
    logsetup.setup("gateway")
    log = logging.getLogger("gateway")
    from gateway.server import Gateway
    from gateway.sessions import TokenFileError
    from gateway.tls import TlsConfigError
    try:
        config = config_module.load(config_module.path_from_args(args))
        websocket_unmask.install()
        websocket_send.install()
        websocket_limits.install()
        gateway = Gateway(config)
    except (config_module.ConfigError, TokenFileError, TlsConfigError) as e:
        log.critical("configuration error: %s", e)
        return 78   # EX_CONFIG
    gateway.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
