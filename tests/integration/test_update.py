"""`update`: install an uploaded zip, restart the executor, and refuse every bad upload."""
from __future__ import annotations

import io
import os
import shutil
import zipfile

import pytest
import socketio

from tests.appliance import FIXTURES, b64, wait_for, zip_dir, zip_files
from tests.integration.conftest import call, ok, project_snapshot, upload


def zip_of_infos(*members) -> bytes:
    """A zip of (ZipInfo or name, text) members, written exactly as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, text in members:
            archive.writestr(info, text)
    return buffer.getvalue()


def symlink(name: str, target: str):
    info = zipfile.ZipInfo(name)
    info.create_system = 3                 # Unix, so the file type in the mode counts
    info.external_attr = 0o120777 << 16    # S_IFLNK | 0777
    return (info, target)


def running_testbot(client, appliance):
    """Upload testbot and bump its counter once; return (pid, snapshot of current/)."""
    ok(upload(client, "testbot"))
    assert call(client, "bot", "incr")["data"] == 1
    return call(client, "bot", "state")["data"]["pid"], project_snapshot(appliance)


def assert_untouched(client, appliance, pid, snapshot, counter):
    """The old project still runs in the same executor, with its state, from the same files."""
    assert call(client, "bot", "incr")["data"] == counter
    assert call(client, "bot", "state")["data"]["pid"] == pid
    assert project_snapshot(appliance) == snapshot


def test_ack_comes_once_a_new_executor_is_up_and_start_works_at_once(client, appliance):
    old_pid = appliance.executor_pid()
    reply = upload(client, "testbot")
    assert reply["status"] == "success", reply
    assert reply["data"]["origin"] == "upload"
    # sent right after the ack, with no waiting: the new executor is already there
    started = client.call("start", {}, timeout=60)
    assert started["status"] == "success" and started["message"] == "Project started"
    state = call(client, "bot", "state")
    assert state["status"] == "success", state
    assert state["data"]["pid"] != old_pid
    assert state["data"]["helper"] == "helper"
    wait_for(lambda: appliance.executor_pid() == state["data"]["pid"], what="the gateway log")


def test_process_right_after_the_ack_works(client, appliance):
    old_pid = appliance.executor_pid()
    ok(upload(client, "testbot"))
    reply = call(client, "bot", "add", [40, 2])
    assert reply == {"status": "success", "message": "bot.add returned", "data": 42}
    assert call(client, "bot", "state")["data"]["pid"] != old_pid


def test_project_zipped_as_a_folder(client):
    reply = upload(client, "folder_zip", prefix="my_project/")
    assert reply["status"] == "success", reply
    assert reply["data"]["name"] == "my_project"
    assert call(client, "thing", "where")["data"] == "folder"


def test_seed_alias_zip_data(client):
    reply = client.call("update", {"zip_data": b64(zip_dir(FIXTURES / "folder_zip"))}, timeout=60)
    assert reply["status"] == "success", reply
    assert call(client, "thing", "where")["data"] == "folder"


def test_bad_uploads_are_rejected_with_the_reason(client, appliance):
    pid, snapshot = running_testbot(client, appliance)
    bad = [
        ({"data": "this is *not* base64!"}, "base64", "invalid_payload"),
        ({"data": b64(b"hello, I am plain text")}, "not a zip", "update_rejected"),
        ({"data": b64(zip_files({"app.py": "x = 1\n", "lib/util.py": ""}))}, "main.py",
         "update_rejected"),
        ({"data": ""}, "data", "invalid_payload"),
        ({}, "data", "invalid_payload"),
    ]
    for counter, (payload, reason, code) in enumerate(bad, start=2):
        reply = client.call("update", payload, timeout=60)
        assert reply["status"] == "error", (payload, reply)
        assert reason in reply["message"], reply
        assert reply["data"] == {"code": code}, reply
        assert_untouched(client, appliance, pid, snapshot, counter)


def test_entries_that_escape_are_rejected(client, appliance):
    pid, snapshot = running_testbot(client, appliance)
    bad = [
        (("../escape.py", "x = 1\n"), "escapes the project directory"),
        (("lib/../../escape.py", "x = 1\n"), "escapes the project directory"),
        (("/tmp/robotctl-escape-test.py", "x = 1\n"), "absolute path"),
        (symlink("passwd", "/etc/passwd"), "symbolic link"),
    ]
    for counter, (member, reason) in enumerate(bad, start=2):
        data = zip_of_infos(("main.py", "push_message = None\n"), member)
        reply = client.call("update", {"data": b64(data)}, timeout=60)
        assert reply["status"] == "error", (member, reply)
        assert reason in reply["message"], reply
        assert reply["data"] == {"code": "update_rejected"}, reply
        assert_untouched(client, appliance, pid, snapshot, counter)
    assert not (appliance.projects / "escape.py").exists()
    assert not (appliance.root / "escape.py").exists()
    assert not os.path.exists("/tmp/robotctl-escape-test.py")


@pytest.mark.config(executor={"max_project_files": 5, "max_project_size": 10000})
def test_zip_bombs_are_rejected_by_file_count_and_size(client, appliance):
    pid, snapshot = running_testbot(client, appliance)
    many = {"main.py": "push_message = None\n"}
    many.update(("data/%d.txt" % i, "x") for i in range(5))
    reply = client.call("update", {"data": b64(zip_files(many))}, timeout=60)
    assert reply["status"] == "error", reply
    assert "6 files" in reply["message"] and "limit is 5" in reply["message"], reply
    assert reply["data"] == {"code": "update_rejected"}, reply
    assert_untouched(client, appliance, pid, snapshot, 2)

    buffer = io.BytesIO()   # 50 kB of zeros that compress to almost nothing
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.py", "push_message = None\n")
        archive.writestr("blob.bin", b"\0" * 50000)
    assert len(buffer.getvalue()) < 10000
    reply = client.call("update", {"data": b64(buffer.getvalue())}, timeout=60)
    assert reply["status"] == "error", reply
    assert "exceeds the limit" in reply["message"], reply
    assert reply["data"] == {"code": "update_rejected"}, reply
    assert_untouched(client, appliance, pid, snapshot, 3)

    # within both limits: accepted
    ok(upload(client, "folder_zip"))


def _oversized_update(client):
    """Send an update bigger than gateway.max_message_size; return (acks, disconnects)."""
    acks, disconnects = [], []
    client.on("disconnect", lambda *reason: disconnects.append(reason))
    client.emit("update", {"data": "A" * 40000}, callback=acks.append)
    wait_for(lambda: acks or disconnects, 30, "an error ack or the connection closing")
    return acks, disconnects


@pytest.mark.config(gateway={"max_message_size": 20000})
def test_message_over_max_message_size_closes_the_connection(connect, appliance):
    first = connect()
    pid, snapshot = running_testbot(first, appliance)
    acks, disconnects = _oversized_update(first)
    if acks:   # the transport could answer: it must be an error
        assert acks[0]["status"] == "error" and "max_message_size" in acks[0]["message"]
    else:      # websocket: the server closes the connection
        assert disconnects and not first.connected
    # the gateway stays up: a new client connects, and the old project is untouched
    second = wait_for(lambda: _try_connect(connect), 30, "a new connection")
    assert_untouched(second, appliance, pid, snapshot, 2)


@pytest.mark.config(gateway={"max_message_size": 20000})
def test_message_over_max_message_size_is_logged_with_the_reason(connect, appliance):
    client = connect()
    acks, disconnects = _oversized_update(client)
    if disconnects:
        wait_for(lambda: appliance.count(r"(?i)max_message_size|too (large|big)") > 0, 5,
                 "a log line saying why the connection was closed")


def _try_connect(connect):
    try:
        return connect()
    except socketio.exceptions.ConnectionError:
        return None   # the gateway may still be forgetting the closed connection


def test_module_cache_is_fresh_after_an_update(client, tmp_path):
    ok(upload(client, "testbot"))
    assert [call(client, "bot", "incr")["data"] for _ in range(3)] == [1, 2, 3]
    ok(upload(client, "testbot"))
    assert call(client, "bot", "incr")["data"] == 1
    # a changed helper module is imported afresh, not taken from sys.modules
    changed = tmp_path / "testbot2"
    shutil.copytree(str(FIXTURES / "testbot"), str(changed))
    (changed / "helper.py").write_text('NAME = "helper v2"\n')
    reply = client.call("update", {"data": b64(zip_dir(changed))}, timeout=60)
    assert reply["status"] == "success", reply
    assert call(client, "bot", "state")["data"]["helper"] == "helper v2"
