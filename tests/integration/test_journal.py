"""The journal tells an operator what went wrong in the project (issue 9)."""
from __future__ import annotations

import re

from tests.appliance import FIXTURES, wait_for
from tests.integration.conftest import call, ok, upload


def line_of(project: str, marker: str) -> int:
    lines = (FIXTURES / project / "main.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text)


def test_a_project_that_fails_to_import_is_logged_as_an_error(client, appliance):
    ok(upload(client, "import_error"))
    reply = client.call("start", {}, timeout=30)
    assert reply["status"] == "error" and reply["data"]["code"] == "load_failed", reply
    appliance.wait_log(r"executor ERROR executor\.service: project project \(upload\) failed to "
                       r"load: cannot load the project: ModuleNotFoundError: No module named "
                       r"'module_that_does_not_exist' \(main\.py, line 4\)")
    # The traceback, from the user's code on.
    assert re.search(r'Traceback \(most recent call last\):\n\s+File "[^"]*/main\.py", line 4',
                     appliance.log), appliance.log[-3000:]


def test_an_uncaught_exception_in_a_project_thread_is_logged_as_an_error(client, appliance):
    ok(upload(client, "callpathbot"))
    assert ok(call(client, "bot", "crash_thread")) == "started"
    appliance.wait_log(r"executor ERROR executor\.crash_reports: uncaught exception in thread "
                       r"crasher of the project: RuntimeError: failure in a project thread")
    assert re.search(r'File "[^"]*/main\.py", line %d, in _fail'
                     % line_of("callpathbot", "THREAD LINE"), appliance.log), appliance.log[-3000:]


def test_a_segfault_leaves_a_python_traceback(client, appliance):
    ok(upload(client, "crash_segfault"))
    client.call("start", {}, timeout=30)
    appliance.wait_log(r"Fatal Python error: Segmentation fault")
    wait_for(lambda: re.search(r'File "[^"]*/main\.py", line 4 in <module>', appliance.log), 30,
             "the project's line in the dumped traceback")
