"""Why the executor stopped, and why it restarted: the one owner of the runtime records.

The records, all in the runtime directory beside the IPC sockets (``run_dir_of``):
- ``executor-last-exit`` (STOP_RECORD), written after every stop by the unit's hook or the
  dev supervisor: ``SERVICE_RESULT=… EXIT_CODE=… EXIT_STATUS=… TIME=…``;
- ``executor-exit.json`` (OWN_RECORD), written by the executor just before a clean exit,
  with its reason (update, reload, rollback, manual);
- ``executor-crashes.json`` (CRASHES) and ``executor-loaded`` (LOADED), kept by
  executor.restart_history, which turns all four into the restart reason.
A new ``make run`` is a boot: the dev supervisor removes them all (``clear``).

Writing the stop record is one program for both modes. Under systemd it is the executor
unit's ``ExecStopPost=`` hook (``python3 -m shared.exit_record --config PATH executor``),
which reads what systemd passes in SERVICE_RESULT, EXIT_CODE and EXIT_STATUS; ``make
run``'s supervisor calls ``write`` with the same fields (``from_wait_status``). Each record
is written to a temporary file and renamed, so a reader never sees half a line.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Dict, List, Optional

from shared import config as config_module
from shared import startup
from shared.fsutil import remove_quietly, write_atomically

FIELDS = ("SERVICE_RESULT", "EXIT_CODE", "EXIT_STATUS")
STOP_RECORD = "executor-last-exit"
OWN_RECORD = "executor-exit.json"
CRASHES = "executor-crashes.json"
LOADED = "executor-loaded"
RECORDS = (STOP_RECORD, OWN_RECORD, CRASHES, LOADED)
# The reasons an executor gives for a clean exit (OWN_RECORD), and the restart reasons only
# the records can tell.
CLEAN_EXITS = ("update", "reload", "manual", "rollback")
CRASHED = ("crash", "watchdog")


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


def describe_wait_status(status: int) -> str:
    """A Popen returncode in words: "status 1", "signal SIGKILL"."""
    return "signal %s" % signal.Signals(-status).name if status < 0 else "status %d" % status


def write(run_dir: str, name: str, values: List[str]) -> None:
    line = " ".join("%s=%s" % pair for pair in zip(FIELDS, values))
    write_atomically(path(run_dir, name), "%s TIME=%d\n" % (line, time.time()), mode=0o640)


def read(run_dir: str, name: str) -> Optional[Dict[str, str]]:
    """The stop record's fields, or None if there is none."""
    try:
        with open(path(run_dir, name), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def abnormal(stop: Dict[str, str]) -> bool:
    """Did the service die (killed, or a non-zero exit status)?"""
    return stop.get("EXIT_CODE", "exited") != "exited" or stop.get("EXIT_STATUS", "0") != "0"


def describe(stop: Dict[str, str]) -> str:
    """How the service ended, in words: "killed by signal KILL", "exited with status 1"."""
    status = stop.get("EXIT_STATUS", "?")
    if stop.get("EXIT_CODE") in ("killed", "dumped"):
        return "killed by signal %s" % status
    return "exited with status %s" % status


def clear(run_dir: str) -> None:
    """Remove every record: the next executor start is a boot."""
    for name in RECORDS:
        remove_quietly(os.path.join(run_dir, name))


def main(argv: Optional[List[str]] = None) -> int:
    args = startup.arguments("python3 -m shared.exit_record", __doc__, argv,
                             lambda parser: parser.add_argument(
                                 "name", help="the service, e.g. executor"))
    config = startup.load_config(args, lambda problem: print("exit_record: %s" % problem,
                                                             file=sys.stderr))
    if config is None:
        return startup.EX_CONFIG
    write(run_dir_of(config), args.name, [os.environ.get(key, "") for key in FIELDS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
