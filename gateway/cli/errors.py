"""The one error type of the command, and the exit codes it maps to.

Every failure is raised as ``CliError(exit_code, message, data)``; ``__main__`` turns it into
the printed error and the process exit status in exactly one place.
"""
from __future__ import annotations

from typing import Any

OK = 0
APP_ERROR = 1        # the appliance answered with status "error"
USAGE = 2            # bad arguments (argparse uses 2 as well)
CONNECT = 3          # cannot connect, refused as busy, connection lost, no answer in time
UNAUTHORIZED = 4     # wrong or missing token, or the token file is unreadable
INTERRUPTED = 130    # Ctrl+C, as a shell reports SIGINT

EPILOG = """\
exit status:
  0    ok
  1    the appliance answered with an error (status "error")
  2    usage error
  3    cannot connect (network, refused because another client controls the robot,
       connection lost, no answer within --timeout)
  4    unauthorized (wrong or missing token), or the token file is not readable
  130  interrupted (Ctrl+C)
"""


class CliError(Exception):
    """A failure the user sees: ``message`` on stderr and ``exit_code`` as the status."""

    def __init__(self, exit_code: int, message: str, data: Any = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message
        self.data = data
