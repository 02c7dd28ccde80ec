"""Never bricked, bounded resources: crash-loop rollback, a corrupted `current/` at start, a
full disk during an update, a slow client, and upload limits enforced before the work."""
from __future__ import annotations

import io
import os
import struct
import threading
import time
import zipfile
from pathlib import Path

import pytest
import socketio

from shared import protocol
from tests.appliance import Appliance, b64, wait_for, zip_files
from tests.integration.conftest import call, project_snapshot, record, upload
from tests.rawsocketio import RawSocketIO, vm_rss
from tests.tmpfs import mounted_tmpfs

ROLLBACK = {"crash_limit": 3, "crash_window": 60}
NOTE = "note: the project was rolled back"


def crash_at_start(client, project):
    reply = upload(client, project, prefix=project + "/")
    assert reply["status"] == "success" and reply["data"]["name"] == project, reply
    started = client.call("start", {}, timeout=60)
    assert started["status"] == "error", started
    assert "exited during the call" in started["message"], started
    assert started["data"] == {"code": "executor_died"}, started


def make_good(client, appliance):
    """Upload testbot, start it, wait until it is the last good project; its sha256."""
    reply = upload(client, "testbot", prefix="testbot/")
    assert reply["status"] == "success", reply
    assert client.call("start", {}, timeout=60)["status"] == "success"
    appliance.wait_log(r"it is now the last good project")
    return reply["data"]["sha256"]


def restart(appliance):
    """Stop the whole appliance and start it again on the same projects_dir and port."""
    ready = appliance.count(r"executor \w+ ready \(pid")
    up = appliance.count(r"executor \w+ is up")
    appliance.stop()
    appliance.start()
    appliance.wait_log(r"executor \w+ ready \(pid", ready + 1)
    appliance.wait_log(r"executor \w+ is up", up + 1)


def fresh_client(appliance):
    """A client whose handlers are in place before it connects; (client, server_infos)."""
    client = socketio.Client(reconnection=False)
    infos = record(client, protocol.SERVER_INFO)
    client.connect(appliance.url, transports=["websocket"])
    return client, infos


@pytest.mark.config(executor=ROLLBACK)
def test_crash_loop_at_import_rolls_back_to_the_default(client, appliance):
    rolled = record(client, protocol.PROJECT_ROLLED_BACK)
    infos = record(client, protocol.SERVER_INFO)
    crash_at_start(client, "crash_exit")
    wait_for(lambda: rolled, 90, "robotctl:project_rolled_back")
    event = rolled[0]
    assert event["from"]["name"] == "crash_exit" and event["from"]["origin"] == "upload"
    assert event["to"]["origin"] == "default", event
    assert "3 times" in event["reason"] and "exited with status 1" in event["reason"], event
    info = wait_for(lambda: [i for i in infos if (i["last_restart"] or {}).get("reason")
                             == "rollback"], 30, "server_info after the rollback")[0]
    assert info["project"]["origin"] == "default"
    reply = call(client, "sport_client", "GetState")
    assert reply["status"] == "success" and NOTE in reply["message"], reply
    assert NOTE not in call(client, "sport_client", "GetState")["message"]   # told once
    assert appliance.count(r"crash_exit crashed the executor 3 times.*rolled back to "
                           r"default \(default\)") == 1


@pytest.mark.config(executor=ROLLBACK)
def test_segfault_loop_rolls_back_and_a_client_connecting_later_is_told(connect, appliance):
    first = connect()
    crash_at_start(first, "crash_segfault")
    first.disconnect()
    appliance.wait_log(r"crash_segfault crashed the executor 3 times \S+ \S+ s \(last: "
                       r"killed by signal SEGV\); rolled back to default", timeout=90)
    later, infos = fresh_client(appliance)
    try:
        wait_for(lambda: [i for i in infos if (i["last_restart"] or {}).get("reason")
                          == "rollback"], 30, "server_info saying rollback")
        reply = call(later, "sport_client", "GetState")
        assert reply["status"] == "success" and NOTE in reply["message"], reply
        assert "crash_segfault" in reply["message"]
    finally:
        later.disconnect()


@pytest.mark.config(executor=ROLLBACK)
def test_rollback_note_is_not_lost_to_a_status_call(connect, appliance):
    """A client that connects after the rollback and asks `status` first is told, in that
    reply or (at the latest) in the reply of the call after it."""
    first = connect()
    crash_at_start(first, "crash_exit")
    first.disconnect()
    appliance.wait_log(r"crash_exit crashed the executor 3 times", timeout=90)
    later, infos = fresh_client(appliance)
    try:
        wait_for(lambda: [i for i in infos if (i["last_restart"] or {}).get("reason")
                          == "rollback"], 30, "server_info saying rollback")
        status = later.call("status", {}, timeout=30)
        assert status["status"] == "success", status
        reply = call(later, "sport_client", "GetState")
        assert NOTE in status["message"] + reply["message"], (status["message"], reply)
    finally:
        later.disconnect()


@pytest.mark.config(executor=dict(ROLLBACK, good_after=1))
def test_crash_loop_rolls_back_to_the_last_good_project(client, appliance):
    good = make_good(client, appliance)
    rolled = record(client, protocol.PROJECT_ROLLED_BACK)
    crash_at_start(client, "crash_exit")
    wait_for(lambda: rolled, 90, "robotctl:project_rolled_back")
    assert rolled[0]["to"]["name"] == "testbot" and rolled[0]["to"]["sha256"] == good
    reply = call(client, None, "ping")
    assert reply["status"] == "success" and reply["data"] == "pong", reply
    assert NOTE in reply["message"], reply
    assert appliance.count(r"rolled back to testbot \(upload\)") == 1


@pytest.mark.config(executor={"good_after": 1})
@pytest.mark.parametrize("damage", ["tamper", "no_manifest"])
def test_corrupted_current_at_start_is_replaced(client, appliance, damage):
    if damage == "tamper":
        make_good(client, appliance)        # a last good project to fall back to
    assert upload(client, "folder_zip", prefix="my_project/")["status"] == "success"
    client.disconnect()
    appliance.stop()
    release = Path(os.path.realpath(str(appliance.projects / "current")))
    if damage == "tamper":
        with open(str(release / "main.py"), "a") as f:
            f.write("\n# a power cut left this half written\n")
    else:
        (release / ".robotctl-manifest.json").unlink()
    restart(appliance)
    later, infos = fresh_client(appliance)
    try:
        info = wait_for(lambda: [i for i in infos if i["project"]], 30, "server_info")[0]
        if damage == "tamper":
            appliance.wait_log(r"replacing the current project with the last good project")
            assert info["project"]["name"] == "testbot", info
            assert call(later, None, "ping")["data"] == "pong"
        else:
            appliance.wait_log(r"re-seeding the current project from the default project")
            assert info["project"]["origin"] == "default", info
            assert call(later, "sport_client", "GetState")["status"] == "success"
        assert Path(os.path.realpath(str(appliance.projects / "current"))) != release
    finally:
        later.disconnect()


@pytest.fixture
def small_disk(tmp_path):
    """An appliance whose projects_dir is a 4 MiB tmpfs."""
    with mounted_tmpfs(tmp_path / "projects", "size=4m", lazy=True):
        app = Appliance(tmp_path)
        try:
            yield app.start()
        finally:
            app.stop()


def test_disk_full_during_an_update(small_disk):
    client = socketio.Client(reconnection=False)
    client.connect(small_disk.url, transports=["websocket"])
    try:
        before = project_snapshot(small_disk)
        free = os.statvfs(str(small_disk.projects))
        blob = os.urandom(free.f_bavail * free.f_frsize + 512 * 1024)   # incompressible
        big = _stored_zip({"main.py": b"push_message = None\n", "blob.bin": blob})
        reply = client.call("update", {"data": b64(big)}, timeout=120)
        assert reply["status"] == "error", reply
        assert "disk full" in reply["message"], reply
        assert reply["data"] == {"code": "update_rejected"}, reply
        assert project_snapshot(small_disk) == before
        assert not os.listdir(str(small_disk.projects / "staging"))
        assert call(client, "sport_client", "GetState")["status"] == "success"
        assert upload(client, "testbot")["status"] == "success"     # the space came back
        assert call(client, None, "ping")["data"] == "pong"
    finally:
        client.disconnect()


def _stored_zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SENT = 50000
# A long event name makes the 50,000 events ~13 MB on the wire: far more than the kernel's
# socket buffers (~4 MB on loopback) absorb, so the gateway really holds a backlog.
TICK = "tick-" + "x" * 250


@pytest.mark.config(gateway={"client_buffer_bytes": 256 * 1024, "stall_timeout": 300,
                             "ping_interval": 30, "ping_timeout": 90})
def test_slow_client_memory_stays_bounded_and_drops_are_reported(client, appliance):
    """A client that stops reading (the liveness timeout is raised so that the frozen reader
    is not dropped as dead while the project pushes 50,000 events)."""
    assert upload(client, "testbot")["status"] == "success"
    assert client.call("start", {}, timeout=60)["status"] == "success"
    last = []
    client.on(TICK, lambda data: last.append(data["i"]) if data["i"] == SENT - 1 else None)
    slow = RawSocketIO("127.0.0.1", appliance.port, auth={"role": "observer"})
    gateway = appliance.gateway_pid()
    baseline = vm_rss(gateway)
    peak, done = [baseline], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], vm_rss(gateway))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        reply = call(client, "bot", "burst", [SENT, TICK], timeout=120)
        assert reply["status"] == "success", reply
        wait_for(lambda: last, 120, "the fast client to receive the last tick")
    finally:
        done.set()
        sampler.join()
    grown = peak[0] - baseline
    assert grown < 150 * 2 ** 20, "gateway RSS grew by %.1f MiB" % (grown / 2 ** 20)

    received, dropped, by_event = 0, 0, {}
    try:
        for event, data in slow.events(timeout=30):
            if event == TICK:
                received += 1
            elif event == protocol.PUSH_DROPPED:
                assert data["count"] == sum(data["by_event"].values()), data
                dropped += data["count"]
                for name, count in data["by_event"].items():
                    by_event[name] = by_event.get(name, 0) + count
            if received + dropped >= SENT:
                break
    finally:
        slow.close()
    print("slow client: %d received, %d dropped; gateway RSS +%.1f MiB"
          % (received, dropped, grown / 2 ** 20))
    assert received + dropped == SENT, (received, dropped)
    assert dropped > 0 and by_event == {TICK: dropped}, (received, dropped, by_event)


def _declare_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the central directory so that member ``name`` declares ``size`` bytes."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", out, at + 28)[0]
        if bytes(out[at + 46:at + 46 + name_len]) == name:
            struct.pack_into("<I", out, at + 24, size)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError("no member %r" % name)


@pytest.mark.config(executor={"max_project_files": 10})
def test_upload_limits_are_enforced_before_extracting(client, appliance):
    before = project_snapshot(appliance)
    assert call(client, "sport_client", "GetState")["status"] == "success"
    pid = appliance.executor_pid()
    bomb = _declare_size(zip_files({"main.py": "x = 1\n", "big.bin": "0" * 1000}),
                         b"big.bin", 0xF0000000)      # claims 3.75 GiB
    reply = client.call("update", {"data": b64(bomb)}, timeout=60)
    assert reply["status"] == "error", reply
    assert "uncompressed size 3.8 GiB exceeds the limit of 500 MiB" in reply["message"], reply
    assert reply["data"] == {"code": "update_rejected"}, reply
    many = {"main.py": "x = 1\n"}
    many.update(("f%02d.txt" % i, "x") for i in range(11))
    reply = client.call("update", {"data": b64(zip_files(many))}, timeout=60)
    assert reply["status"] == "error" and "limit is 10" in reply["message"], reply
    assert reply["data"] == {"code": "update_rejected"}, reply
    assert project_snapshot(appliance) == before
    assert not os.listdir(str(appliance.projects / "staging"))
    assert call(client, "sport_client", "GetState")["status"] == "success"
    assert appliance.executor_pid() == pid      # refused without a restart
