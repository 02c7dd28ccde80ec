"""Each project in its own environment: requirements.txt installed at upload from the
upload's wheels/ (built in the test), reused when unchanged, refused with pip's reason,
and rolled back with its project."""
from __future__ import annotations

import pytest

from shared import protocol
from tests.appliance import b64, wait_for
from tests.integration.conftest import call, ok, record
from tests.wheels import project_zip, sdist, wheel

V1 = wheel("robopkg", "1.0")
V2 = wheel("robopkg", "2.0")


def deploy(client, blob, timeout=120):
    return client.call("update", {"data": b64(blob)}, timeout=timeout)


def version(client):
    return ok(call(client, None, "version"))


def env_dirs(appliance):
    envs = appliance.projects / "envs"
    return sorted(p.name for p in envs.iterdir()) if envs.is_dir() else []


def test_wheel_in_the_upload_is_installed_and_used(connect, appliance):
    client = connect(events=(protocol.LOG,))
    ok(deploy(client, project_zip("robopkg==1.0\n", V1)))
    assert ok(client.call("start", {}))["missing_requirements"] == []
    assert version(client) == "1.0"
    assert ok(call(client, None, "greet", ["robot"])) == "hello robot from robopkg 1.0"
    texts = [line["text"] for line in client.received[protocol.LOG]]
    assert any(t.startswith("[pip] ") and "Successfully installed robopkg-1.0" in t
               for t in texts), texts
    described = ok(client.call("describe", {}))["environment"]
    assert described["distributions"] == [{"name": "robopkg", "version": "1.0"}]
    status = ok(client.call("status", {}))["executor"]
    assert status["environment"]["id"] == described["id"]
    assert status["environments"]["count"] == 1 and status["environments"]["bytes"] > 0
    # started on the environment's python at once (projects/current-env), no second start
    with open("/proc/%d/cmdline" % appliance.executor_pid(), "rb") as stream:
        command = stream.read().decode()
    assert "/envs/%s/bin/python" % described["id"] in command, command
    assert appliance.count(r"switching to the interpreter") == 0


def test_a_second_upload_sees_its_own_version(client, appliance):
    ok(deploy(client, project_zip("robopkg==1.0\n", V1)))
    assert version(client) == "1.0"
    ok(deploy(client, project_zip("robopkg==2.0\n", V2)))
    assert version(client) == "2.0"
    # the first environment stays with the previous release (the roll-back target)
    assert len(env_dirs(appliance)) == 2


def test_unsatisfiable_requirement_is_rejected_and_the_project_keeps_running(client, appliance):
    ok(deploy(client, project_zip("robopkg==1.0\n", V1)))
    assert version(client) == "1.0"
    before = env_dirs(appliance)
    reply = deploy(client, project_zip("robopkg==9.9\n", V1))
    assert reply["status"] == "error" and reply["data"]["code"] == "update_rejected", reply
    assert reply["message"] == ("update rejected: requirements could not be installed: "
                                "No matching distribution found for robopkg==9.9 "
                                "(offline: only wheels/ is searched)"), reply
    assert version(client) == "1.0"
    assert env_dirs(appliance) == before          # nothing half-built left behind
    assert list((appliance.projects / "staging").iterdir()) == []


def test_same_requirements_reuse_the_environment(client, appliance):
    ok(deploy(client, project_zip("robopkg==1.0\n", V1)))
    first = ok(client.call("describe", {}))["environment"]["id"]
    main = "import robopkg\n\n\ndef version():\n    return 'new code, ' + robopkg.VERSION\n"
    ok(deploy(client, project_zip("robopkg==1.0\n", V1, main=main)))
    assert version(client) == "new code, 1.0"
    assert ok(client.call("describe", {}))["environment"]["id"] == first
    assert appliance.count(r"reusing the environment %s" % first) == 1
    assert env_dirs(appliance) == [first]


def test_sdist_only_requirement_is_refused(client):
    reply = deploy(client, project_zip("onlysrc\n", sdist("onlysrc", "1.0"), package="onlysrc"))
    assert reply["status"] == "error" and reply["data"]["code"] == "update_rejected", reply
    assert "onlysrc has only a source distribution" in reply["message"], reply
    assert "robotctl installs wheels only" in reply["message"], reply
    assert ok(call(client, "sport_client", "GetState"))["posture"] == "lying"


def test_project_without_requirements_has_no_environment(client, appliance):
    main = "def version():\n    return 'plain'\n"
    ok(deploy(client, project_zip(None, {}, main=main)))
    assert version(client) == "plain"
    assert ok(client.call("describe", {}))["environment"] is None
    assert ok(client.call("status", {}))["executor"]["environments"] == {"count": 0, "bytes": 0}
    assert env_dirs(appliance) == []
    assert appliance.count(r"switching to the interpreter") == 0


@pytest.mark.config(executor={"max_project_size": 8000})
def test_environment_counts_toward_the_project_size(client, appliance):
    reply = deploy(client, project_zip("robopkg==1.0\n", V1))
    assert reply["status"] == "error" and reply["data"]["code"] == "update_rejected", reply
    assert "the project and its environment take" in reply["message"], reply
    assert "executor.max_project_size (8000)" in reply["message"], reply
    assert env_dirs(appliance) == []


@pytest.mark.config(executor={"crash_limit": 3, "crash_window": 60, "good_after": 1})
def test_rollback_restores_the_previous_environment(client, appliance):
    rolled = record(client, protocol.PROJECT_ROLLED_BACK)
    ok(deploy(client, project_zip("robopkg==1.0\n", V1)))
    assert version(client) == "1.0"
    appliance.wait_log(r"it is now the last good project")
    crashing = "import os\nimport robopkg\n\nos._exit(3)\n"
    ok(deploy(client, project_zip("robopkg==2.0\n", V2, main=crashing)))
    started = client.call("start", {}, timeout=60)
    assert "exited during the call" in started["message"], started
    wait_for(lambda: rolled, 90, "robotctl:project_rolled_back")
    assert version(client) == "1.0"
    # started on the crashing release's environment, the rollback switched interpreters
    assert appliance.count(r"switching to the interpreter .*/envs/\w+/bin/python") == 1
    # the abandoned release stays as `previous`, with its environment
    assert len(env_dirs(appliance)) == 2
