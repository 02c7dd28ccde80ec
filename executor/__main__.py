"""``python3 -m executor``: load and run the user's project."""
from __future__ import annotations

import logging
import os
import sys

from shared import logsetup, startup


def main() -> int:
    args = startup.arguments("python3 -m executor", __doc__)
    # The project's stdout/stderr are captured for the clients; the executor's own log lines
    # go to a copy of the original stderr, straight to the journal.
    journal = os.fdopen(os.dup(2), "w", buffering=1)
    logsetup.setup("executor", journal)
    from executor import crash_reports
    crash_reports.install(journal)
    config = startup.load_config(args, lambda problem: logging.getLogger("executor").critical(
        "configuration error: %s", problem))
    if config is None:
        return startup.EX_CONFIG
    from executor.service import ExecutorService
    service = ExecutorService(config)
    service.open()
    return service.run()


if __name__ == "__main__":
    sys.exit(main())
