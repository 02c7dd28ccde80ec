"""What a project's crashes leave in the journal.

An uncaught exception in one of the project's threads is logged at error priority with its
traceback (``threading.excepthook``; Python prints it to stderr otherwise, which clients see
but ``journalctl -p err`` does not). A fatal signal (a segfault in a C extension) dumps every
thread's Python traceback (``faulthandler``) to the journal stream itself: the captured
stderr is a pipe that the dying process can no longer drain.
"""
from __future__ import annotations

import faulthandler
import logging
import threading
import traceback
from typing import Any, TextIO

log = logging.getLogger(__name__)


def install(journal: TextIO) -> None:
    faulthandler.enable(file=journal, all_threads=True)
    threading.excepthook = log_thread_exception


def log_thread_exception(args: Any) -> None:
    if args.exc_type is SystemExit:
        return      # as the default hook: a thread ending with sys.exit() is not an error
    thread = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    log.error("uncaught exception in thread %s of the project: %s: %s\n%s", thread,
              args.exc_type.__name__, args.exc_value, text.rstrip())
