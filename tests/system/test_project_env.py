"""A project with requirements.txt and a wheel, installed on the booted bookworm image as a
user would: the package's python3-venv and python3-pip build its environment, and the
unit's executor runs the project on that environment's interpreter."""
from __future__ import annotations

import base64
from pathlib import Path

from conftest import Appliance
from container import wait_for
from test_appliance import EXECUTOR, call, connected, journal_errors, ok

from tests.wheels import project_zip, wheel


def test_a_project_with_a_wheel_runs_in_its_own_environment(fresh: Appliance, deb: Path) -> None:
    fresh.install(deb)
    blob = project_zip("robopkg==1.0\n", wheel("robopkg", "1.0"))
    with connected(fresh) as client:
        ok(client.call("update", {"data": base64.b64encode(blob).decode()}, timeout=180))
        ok(client.call("start", {}, timeout=60))
        assert ok(call(client, None, "version")) == "1.0"
        environment = ok(client.call("describe", {}, timeout=60))["environment"]
    assert environment["distributions"] == [{"name": "robopkg", "version": "1.0"}]
    exe = fresh.run(["readlink", f"/proc/{fresh.main_pid()}/exe"]).stdout.strip()
    assert exe.startswith("/usr/bin/python3"), exe        # the venv's python links there
    command = fresh.read(f"/proc/{fresh.main_pid()}/cmdline").replace("\0", " ")
    assert f"/var/lib/robotctl/projects/envs/{environment['id']}/bin/python" in command
    owner = fresh.run(["stat", "-c", "%U", "/var/lib/robotctl/projects/envs"]).stdout.strip()
    assert owner == "robotctl"
    wait_for(lambda: "[pip] Successfully installed robopkg-1.0" in fresh.journal(EXECUTOR),
             30, "pip's lines in the journal")
    assert journal_errors(fresh) == ""
