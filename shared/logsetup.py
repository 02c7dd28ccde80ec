"""Logging to stdout/stderr for journald.

Under systemd (``$JOURNAL_STREAM`` set) each line gets a ``<N>`` syslog priority prefix, so
``journalctl -p err`` filters properly, and no timestamp (journald adds one). In a terminal
lines carry a time and the level name. ``LOG_LEVEL=DEBUG`` raises the verbosity.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Optional, TextIO

# syslog's "notice" (normal but significant: a controller connected, a takeover) between
# INFO and WARNING; log it with ``log.log(NOTICE, ...)``.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, NOTICE: 5, logging.WARNING: 4,
             logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "<%d>" % _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        # journald reads one priority per line: repeat it on continuation lines (tracebacks).
        return prefix + text.replace("\n", "\n" + prefix)


def setup(process: str, stream: Optional[TextIO] = None) -> None:
    """Configure the root logger for the process named ``process`` (gateway, executor, …)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s " + process + " %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    # eventlet prints a multi-line deprecation notice on import; it says nothing an operator
    # can act on. Its text starts with a newline, hence (?s).
    warnings.filterwarnings("ignore", message=r"(?is).*eventlet is deprecated")
    logging.captureWarnings(True)
