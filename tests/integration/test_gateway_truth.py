"""What the gateway says is true: the project's load state, an observer's describe, the
controller slot, an update sent while the executor restarts (issue 9)."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

import pytest
import socketio
import zmq

from shared import config, messages, sockets
from tests.appliance import REPO, Appliance, b64, wait_for, zip_files
from tests.integration.conftest import call, ok, record, upload

INFO = "robotctl:server_info"


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """``pid`` stopped (SIGSTOP) for the block: a stopped supervisor restarts nothing, a
    stopped executor answers nothing."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


SLOW_IMPORT = """import time

print("import begins", flush=True)
time.sleep(3)


class Motor:
    def stop(self):
        print("MOTOR STOPPED", flush=True)


motor = Motor()
print("import done", flush=True)
"""


def loaded_infos(client):
    return [i for i in client.received[INFO] if i["project"] and i["project"]["loaded"]]


def test_a_load_on_first_use_is_told_to_every_client(connect):
    controller = connect(events=(INFO,), wait_timeout=30)
    observer = connect(auth={"role": "observer"}, events=(INFO,), wait_timeout=30)
    wait_for(lambda: observer.received[INFO], 10, "server_info")
    assert observer.received[INFO][0]["project"]["loaded"] is False
    assert ok(call(controller, "sport_client", "GetState"))["posture"]
    for who in (controller, observer):
        info = wait_for(lambda: loaded_infos(who), 10, "server_info saying loaded")[0]
        assert info["project"]["name"] == "default"


@pytest.mark.config(executor={"requirements": "check"})   # check: named at start, not installed
def test_a_start_with_missing_requirements_is_a_loaded_project(connect):
    controller = connect(events=(INFO,), wait_timeout=30)
    project = {"main.py": "def ping():\n    return 'pong'\n",
               "requirements.txt": "not-a-real-package-xyz>=1.0\n"}
    ok(controller.call("update", {"data": b64(zip_files(project))}, timeout=60))
    observer = connect(auth={"role": "observer"}, events=(INFO,), wait_timeout=30)
    started = ok(controller.call("start", {}, timeout=30))
    assert started["missing_requirements"] == ["not-a-real-package-xyz>=1.0"]
    for who in (controller, observer):
        wait_for(lambda: loaded_infos(who), 10, "server_info saying loaded")
    assert observer.call("status", {}, timeout=30)["data"]["executor"]["project"]["loaded"]


def test_a_controller_leaving_during_its_start_gets_its_stop_hooks(connect, appliance):
    controller = connect(wait_timeout=30)
    ok(controller.call("update", {"data": b64(zip_files({"main.py": SLOW_IMPORT}))}, timeout=60))
    controller.emit("start", {})
    appliance.wait_log("import begins")
    controller.disconnect()
    appliance.wait_log("MOTOR STOPPED")
    log = appliance.log
    assert log.index("import done") < log.index("MOTOR STOPPED")
    # The slot is free, and the project stayed loaded.
    again = connect(wait_timeout=30)
    assert again.call("status", {}, timeout=30)["data"]["executor"]["project"]["loaded"]


def test_an_update_sent_while_the_executor_restarts_waits_for_it(appliance, client):
    with stopped(appliance.process.pid):     # the executor is not restarted meanwhile
        os.kill(appliance.executor_pid(), signal.SIGKILL)
        appliance.wait_log(r"executor \w+ is gone")
        replies = []
        update = threading.Thread(target=lambda: replies.append(client.call(
            "update", {"data": b64(zip_files({"main.py": "def ping():\n    return 1\n"}))},
            timeout=60)))
        update.start()
        appliance.wait_log(r"executor \w+ is gone")
    update.join(90)
    reply = replies[0]
    assert reply["status"] == "success", reply
    assert reply["message"] == "Project updated and the executor restarted"
    assert call(client, None, "ping")["data"] == 1


@pytest.mark.config(gateway={"executor_start_timeout": 2})
def test_without_an_executor_a_call_fails_with_executor_unavailable(appliance, client):
    with stopped(appliance.process.pid):     # the supervisor restarts no executor meanwhile
        os.kill(appliance.executor_pid(), signal.SIGKILL)
        appliance.wait_log(r"executor \w+ is gone")
        reply = call(client, "sport_client", "GetState", timeout=30)
    assert reply == {"status": "error", "data": {"code": "executor_unavailable"},
                     "message": "no executor is running (waited 2 s); check "
                                "`journalctl -u robotctl-executor`"}
    appliance.wait_executors(2)
    assert ok(call(client, "sport_client", "GetState"))["posture"]


@pytest.mark.config(gateway={"executor_start_timeout": 2})
def test_an_update_whose_executor_does_not_come_back_says_so(appliance, client):
    with stopped(appliance.process.pid):     # the updated executor exits; none replaces it
        reply = client.call("update", {"data": b64(zip_files({"main.py": "def ping():\n"
                                                                          "    return 1\n"}))},
                            timeout=60)
    assert reply["status"] == "error", reply
    assert reply["message"] == "done, but the executor did not come back within 2 s", reply
    assert reply["data"]["code"] == "restart_timeout", reply
    assert reply["data"]["origin"] == "upload" and len(reply["data"]["sha256"]) == 64, reply
    appliance.wait_executors(2)
    assert ok(call(client, None, "ping")) == 1


@pytest.mark.config(executor={"max_execution_time": 0.5})
def test_a_wedged_executor_gets_the_gateways_own_timeout(appliance, client):
    assert ok(call(client, "sport_client", "GetState"))["posture"]
    with stopped(appliance.executor_pid()):  # it cannot answer, not even at its own limit
        reply = call(client, "sport_client", "GetState", timeout=30)
    assert reply == {"status": "error", "data": {"code": "timeout"},
                     "message": "no reply from the executor within 5.5 s"}


def test_a_local_peer_asking_for_another_command_gets_unknown_command(appliance):
    context = zmq.Context()
    peer = sockets.open_socket(context, "watch.command", config.load(str(appliance.config_path)).ipc)
    try:
        peer.send_multipart(messages.Request("watch-1", "process", {}).to_frames())
        assert peer.poll(30000), "no answer from the gateway"
        reply = messages.decode(peer.recv_multipart())
    finally:
        peer.close()
        context.term()
    assert reply == messages.Reply("watch-1", "error", "command 'process' is not available to "
                                   "local peers", {"code": "unknown_command"}), reply


def with_fault(tmp_path, fault: str) -> Appliance:
    """An appliance started with tests/faults' ``fault`` injected."""
    app = Appliance(tmp_path)
    app.env = {"PYTHONPATH": "%s:%s" % (REPO / "tests" / "faults", REPO),
               "ROBOTCTL_TEST_FAULT": fault}
    return app.start()


def test_a_failure_in_connect_after_admission_frees_the_controller_slot(tmp_path):
    app = with_fault(tmp_path, "connect_after_admission")
    clients = []
    try:
        first = socketio.Client(reconnection=False)
        errors = record(first, "connect_error")
        clients.append(first)
        with pytest.raises(socketio.exceptions.ConnectionError):
            first.connect(app.url, transports=["websocket"], wait_timeout=30)
        wait_for(lambda: errors, 10, "connect_error")
        assert errors[0]["message"] == "internal error while connecting; try again", errors
        assert errors[0]["data"] == {"code": "internal_error"}, errors
        second = socketio.Client(reconnection=False)
        clients.append(second)
        second.connect(app.url, transports=["websocket"], wait_timeout=30)
        assert ok(call(second, "sport_client", "GetState"))["posture"]
        app.wait_log(r"connect failed after 127\.0\.0\.1:\d+ was admitted; freed its slot")
    finally:
        for client in clients:
            client.disconnect()
        app.stop()


def test_a_call_to_an_executor_that_just_died_is_executor_restarting(tmp_path):
    """Sent after the executor died but before the gateway saw it go (a window the fault
    holds open): the request cannot be delivered, so it was not run; the next call works."""
    app = with_fault(tmp_path, "blind_to_executor_exit")
    client = socketio.Client(reconnection=False)
    try:
        client.connect(app.url, transports=["websocket"], wait_timeout=30)
        assert ok(call(client, "sport_client", "GetState"))["posture"]
        with stopped(app.process.pid):     # the supervisor restarts no executor meanwhile
            os.kill(app.executor_pid(), signal.SIGKILL)
            app.wait_log(r"injected fault: the gateway missed the executor's disconnection")
            reply = call(client, "sport_client", "GetState", timeout=30)
        assert reply["status"] == "error", reply
        assert reply["message"].startswith("the executor is not reachable ("), reply
        assert reply["message"].endswith("); it is being restarted"), reply
        assert reply["data"] == {"code": "executor_restarting"}, reply
        app.wait_executors(2)
        assert ok(call(client, "sport_client", "GetState"))["posture"]
    finally:
        client.disconnect()
        app.stop()


def test_a_bug_in_a_handler_is_an_internal_error_reply(tmp_path):
    app = with_fault(tmp_path, "status_raises")
    client = socketio.Client(reconnection=False)
    try:
        client.connect(app.url, transports=["websocket"], wait_timeout=30)
        reply = client.call("status", {}, timeout=30)
        assert reply == {"status": "error", "data": {"code": "internal_error"},
                         "message": "internal error: RuntimeError: injected fault in status"}
        app.wait_log(r"internal error in status")
        assert ok(client.call("status", {}, timeout=30))["version"]
    finally:
        client.disconnect()
        app.stop()


@pytest.mark.config(executor={"crash_limit": 3, "crash_window": 60})
def test_a_start_whose_reply_carries_a_rollback_note_is_a_loaded_project(connect, appliance):
    first = connect(wait_timeout=30)
    ok(upload(first, "crash_exit", prefix="crash_exit/"))
    first.call("start", {}, timeout=60)
    first.disconnect()
    appliance.wait_log(r"crash_exit crashed the executor 3 times", timeout=90)
    later = connect(events=(INFO,), wait_timeout=30)
    wait_for(lambda: [i for i in later.received[INFO]
                      if (i["last_restart"] or {}).get("reason") == "rollback"], 30,
             "server_info saying rollback")
    started = ok_with_note(later.call("start", {}, timeout=60))
    assert started["loaded"] is True
    wait_for(lambda: loaded_infos(later), 10, "server_info saying loaded")


def ok_with_note(reply):
    assert reply["status"] == "success" and "note: the project was rolled back" in reply["message"], reply
    return reply["data"]
