"""Why a service stopped, recorded for the executor's crash accounting: one program for both
modes. Under systemd it is the executor unit's ``ExecStopPost=`` hook
(``python3 -m shared.exit_record --config PATH executor``), which reads what systemd passes
in SERVICE_RESULT, EXIT_CODE and EXIT_STATUS; ``make run``'s supervisor calls ``write`` with
the same fields. The record goes next to the IPC sockets (``/run/robotctl``), written to a
temporary file and renamed, so a reader never sees half a line.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from typing import List, Optional

from shared import config as config_module

FIELDS = ("SERVICE_RESULT", "EXIT_CODE", "EXIT_STATUS")


def path(run_dir: str, name: str) -> str:
    return os.path.join(run_dir, "%s-last-exit" % name)


def run_dir_of(config: config_module.Config) -> str:
    """Where the runtime records live: beside the IPC sockets."""
    address: str = config.ipc.command_socket
    return os.path.dirname(address[len("ipc://"):])


def from_wait_status(status: int, result: Optional[str] = None) -> List[str]:
    """A Popen returncode as systemd describes it (``result`` overrides SERVICE_RESULT,
    e.g. "watchdog")."""
    if status < 0:
        fields = [result or "signal", "killed", signal.Signals(-status).name[3:]]
    else:
        fields = [result or ("success" if status == 0 else "exit-code"), "exited", str(status)]
    return fields


def write(run_dir: str, name: str, values: List[str]) -> None:
    line = " ".join("%s=%s" % pair for pair in zip(FIELDS, values))
    target = path(run_dir, name)
    fd, temp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", dir=run_dir)
    with os.fdopen(fd, "w") as f:
        f.write("%s TIME=%d\n" % (line, time.time()))
    os.chmod(temp, 0o640)
    os.replace(temp, target)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m shared.exit_record", description=__doc__)
    config_module.add_arguments(parser)
    parser.add_argument("name", help="the service, e.g. executor")
    args = parser.parse_args(argv)
    try:
        config = config_module.load(config_module.path_from_args(args))
    except config_module.ConfigError as e:
        print("exit_record: %s" % e, file=sys.stderr)
        return 78
    write(run_dir_of(config), args.name, [os.environ.get(key, "") for key in FIELDS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
