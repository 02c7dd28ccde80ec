"""``python3 -m executor``: load and run the user's project."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from shared import config as config_module
from shared import logsetup


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m executor", description=__doc__)
    config_module.add_arguments(parser)
    args = parser.parse_args()
    # The project's stdout/stderr are captured for the clients; the executor's own log lines
    # go to a copy of the original stderr, straight to the journal.
    journal = os.fdopen(os.dup(2), "w", buffering=1)
    logsetup.setup("executor", journal)
    from executor import crash_reports
    crash_reports.install(journal)
    try:
        config = config_module.load(config_module.path_from_args(args))
    except config_module.ConfigError as e:
        logging.getLogger("executor").critical("configuration error: %s", e)
        return 78   # EX_CONFIG: systemd shows it, and the dev supervisor stops retrying
    from executor.service import ExecutorService
    service = ExecutorService(config)
    service.open()
    return service.run()


if __name__ == "__main__":
    sys.exit(main())
