"""NOTICE lines reach journald as syslog priority 5 (``journalctl -p notice``)."""
from __future__ import annotations

import logging

from shared.logsetup import NOTICE, JournalFormatter


def test_notice_is_priority_five_between_info_and_warning():
    assert logging.INFO < NOTICE < logging.WARNING
    assert logging.getLevelName(NOTICE) == "NOTICE"
    record = logging.LogRecord("gateway.handlers", NOTICE, __file__, 1,
                               "controller %s connected", ("10.0.0.7:5000",), None)
    assert JournalFormatter("%(name)s: %(message)s").format(record) == \
        "<5>gateway.handlers: controller 10.0.0.7:5000 connected"
