"""Who may connect and what they may do: token, roles, takeover, stale clients, CORS."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import requests
import socketio
import yaml

from tests.appliance import REPO, wait_for
from tests.integration.conftest import call, record, upload

TOKEN = "s3cret-token"
INFO = "robotctl:server_info"


# python-socketio 5.7.2's connect() waits all of wait_timeout when it is refused.
REFUSED_WAIT = 3


def refused(appliance, auth=None):
    """The connect_error payload of a connection the gateway refuses."""
    client = socketio.Client(reconnection=False)
    errors = record(client, "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(appliance.url, transports=["websocket"], auth=auth,
                       wait_timeout=REFUSED_WAIT)
    wait_for(lambda: errors, 10, "connect_error on the refused client")
    assert not client.connected
    return errors[0]


def engine_closed(client):
    """Disconnected down to Engine.IO: python-socketio 5.7.2 clears ``connected`` first, and
    refuses to connect again until its transport has closed too."""
    return not client.connected and client.eio.state == "disconnected"


def controller_address(client):
    return client.call("status", {}, timeout=30)["data"]["controller"]["address"]


def test_an_unknown_role_is_refused_with_its_code(appliance):
    error = refused(appliance, {"role": "admin"})
    assert error["message"] == "invalid role 'admin': use controller or observer", error
    assert error["data"] == {"code": "invalid"}, error


@pytest.mark.config(token=TOKEN)
def test_missing_or_wrong_token_is_refused_without_holder(connect, appliance):
    for auth in (None, {"token": TOKEN + "x"}, {"token": 123}, {"role": "observer"}):
        error = refused(appliance, auth)
        assert error["message"].startswith("unauthorized"), (auth, error)
        assert error["data"] == {"code": "unauthorized"}, (auth, error)

    holder = connect(auth={"token": TOKEN}, events=(INFO,), wait_timeout=30)
    wait_for(lambda: holder.received[INFO], 10, "server_info")
    info = holder.received[INFO][0]
    assert info["auth_required"] is True and info["role"] == "controller"
    assert call(holder, "sport_client", "GetState")["status"] == "success"

    # While someone holds the robot, unauthenticated clients still learn nothing about them.
    for auth in ({"token": "wrong", "takeover": "fresh-id"},):
        error = refused(appliance, auth)
        assert error["data"] == {"code": "unauthorized"}, (auth, error)
    busy = refused(appliance, {"token": TOKEN})
    assert busy["message"].startswith("busy"), busy
    assert busy["data"]["code"] == "busy"
    assert busy["data"]["holder"]["address"] == info["controller"]["address"]
    assert busy["data"]["holder"]["since"] == info["controller"]["since"]
    assert holder.connected and controller_address(holder) == info["controller"]["address"]


@pytest.mark.parametrize("content", [None, "", "  \n"], ids=["missing", "empty", "blank"])
def test_token_file_missing_or_empty_stops_the_gateway(tmp_path, content):
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    config = tmp_path / "robotctl.yaml"
    config.write_text(yaml.safe_dump({
        "gateway": {"host": "127.0.0.1", "port": 0, "auth_token_file": str(token_file)},
        "executor": {"projects_dir": str(tmp_path / "projects")},
        "ipc": {"command_socket": "ipc://%s/cmd.ipc" % tmp_path,
                "callback_socket": "ipc://%s/cb.ipc" % tmp_path}}))
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config)], cwd=str(REPO),
        env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 78, result.stdout
    assert "gateway.auth_token_file" in result.stdout and str(token_file) in result.stdout
    assert ("No such file" if content is None else "empty") in result.stdout, result.stdout
    assert "listening" not in result.stdout


@pytest.mark.config(token=TOKEN)
def test_observers_watch_but_cannot_act(connect, appliance):
    controller = connect(auth={"token": TOKEN}, wait_timeout=30)
    assert upload(controller, "testbot")["status"] == "success"
    assert controller.call("start", {}, timeout=60)["status"] == "success"
    observer = connect(auth={"token": TOKEN, "role": "observer"}, events=(INFO, "tick"),
                       wait_timeout=30)
    second = connect(auth={"token": TOKEN, "role": "observer"}, wait_timeout=30)
    wait_for(lambda: observer.received[INFO], 10, "server_info on the observer")
    info = observer.received[INFO][0]
    assert info["role"] == "observer" and info["controller"] is not None
    assert info["project"]["origin"] == "upload"

    assert call(controller, "bot", "burst", {"count": 5})["data"] == 5
    wait_for(lambda: len(observer.received["tick"]) == 5, 10, "pushes on the observer")
    assert [tick["i"] for tick in observer.received["tick"]] == [0, 1, 2, 3, 4]

    described = observer.call("describe", {}, timeout=60)
    assert described["status"] == "success", described
    assert "bot" in [o["name"] for o in described["data"]["objects"]]
    status = observer.call("status", {}, timeout=60)
    assert status["status"] == "success" and status["data"]["observers"] == 2
    assert status["data"]["controller"] == info["controller"]

    for event, payload in (("update", {"data": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}),
                           ("start", {}),
                           ("process", {"params": {"object": "bot", "method": "incr"}}),
                           ("upload_begin", {"size": 10, "sha256": "0" * 64, "name": "x"})):
        for client in (observer, second):
            reply = client.call(event, payload, timeout=60)
            assert reply["status"] == "error", (event, reply)
            assert "observer" in reply["message"], (event, reply)
            assert reply["data"] == {"code": "observer"}, (event, reply)
    # Nothing an observer sent reached the project.
    assert call(controller, "bot", "incr")["data"] == 1
    assert observer.connected and second.connected


@pytest.mark.config(token=TOKEN)
def test_takeover_tells_the_evicted_controller_first(connect, appliance):
    first = connect(auth={"token": TOKEN}, wait_timeout=30)
    order = []
    first.on("robotctl:session_taken", lambda data: order.append(("session_taken", data)))
    first.on("disconnect", lambda *reason: order.append(("disconnect", None)))
    assert call(first, "sport_client", "StandUp")["status"] == "success"

    second = connect(auth={"token": TOKEN, "takeover": "user-action-1"}, wait_timeout=30)
    wait_for(lambda: len(order) == 2, 10, "session_taken, then the disconnect")
    assert [kind for kind, _ in order] == ["session_taken", "disconnect"]
    taken = order[0][1]
    assert taken["by"] == controller_address(second) and taken["time"]
    assert not first.connected
    assert call(second, "sport_client", "GetState")["data"]["posture"] == "standing"
    assert call(second, "sport_client", "StandDown")["status"] == "success"


@pytest.mark.config(token=TOKEN)
@pytest.mark.parametrize("takeover", [True, "the-same-id"], ids=["true", "id"])
def test_takeover_is_honoured_once_not_on_reconnects(appliance, takeover):
    auth = {"token": TOKEN, "takeover": takeover}
    a = socketio.Client(reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.5)
    b = socketio.Client(reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.5)
    a_errors, a_taken = record(a, "connect_error"), record(a, "robotctl:session_taken")
    b_taken = record(b, "robotctl:session_taken")
    try:
        a.connect(appliance.url, transports=["websocket"], auth=auth, wait_timeout=30)
        b.connect(appliance.url, transports=["websocket"], auth=auth, wait_timeout=30)
        wait_for(lambda: a_taken and engine_closed(a), 10, "A evicted")
        # python-socketio does not reconnect by itself after a server-side disconnect, so A
        # reconnects the way its reconnect loop (or a frontend's) would: the same auth again.
        started = time.monotonic()
        while len(a_errors) < 3 or time.monotonic() - started < 3:
            refusals = len(a_errors)
            wait_for(lambda: engine_closed(a), 10, "A's last attempt closed")
            with pytest.raises(socketio.exceptions.ConnectionError):
                a.connect(appliance.url, transports=["websocket"], auth=auth,
                          wait_timeout=REFUSED_WAIT)
            wait_for(lambda: len(a_errors) > refusals, 10, "A's reconnect refused")
            assert b.connected and not b_taken
            assert call(b, "sport_client", "GetState")["status"] == "success"
        assert all(e["data"]["code"] == "busy" for e in a_errors), a_errors
        assert not a.connected and b.connected and not b_taken
        # A new user action (a fresh id) is honoured.
        wait_for(lambda: engine_closed(a), 10, "A's last attempt closed")
        a.connect(appliance.url, transports=["websocket"],
                  auth={"token": TOKEN, "takeover": "fresh-action"}, wait_timeout=30)
        wait_for(lambda: b_taken and not b.connected, 10, "B evicted by a fresh takeover")
        assert call(a, "sport_client", "GetState")["status"] == "success"
    finally:
        for client in (a, b):
            client.reconnection = False
            client.disconnect()


def test_stop_hooks_run_only_when_the_controller_leaves(connect, appliance):
    controller = connect(wait_timeout=30)
    assert upload(controller, "testbot")["status"] == "success"
    assert controller.call("start", {}, timeout=60)["status"] == "success"
    observer = connect(auth={"role": "observer"}, wait_timeout=30)
    assert observer.call("status", {}, timeout=30)["data"]["observers"] == 1
    observer.disconnect()
    wait_for(lambda: controller.call("status", {})["data"]["observers"] == 0, 10, "observer gone")
    assert call(controller, None, "stop_count")["data"] == {"module": 0, "bot": 0, "class": 0}
    assert call(controller, "bot", "incr")["data"] == 1

    controller.disconnect()
    appliance.wait_log(r"running 2 stop hook\(s\)", 1)
    again = connect(wait_timeout=30)
    wait_for(lambda: call(again, None, "stop_count")["data"]["module"] == 1, 30, "stop hooks")
    assert call(again, None, "stop_count")["data"] == {"module": 1, "bot": 1, "class": 0}
    assert call(again, "bot", "incr")["data"] == 2        # the state was kept
    assert appliance.count(r"running \d+ stop hook") == 1


FROZEN_CLIENT = textwrap.dedent("""
    import json, sys, time
    import socketio
    client = socketio.Client(reconnection=False)
    client.connect(sys.argv[1], transports=["websocket"], wait_timeout=30)
    reply = client.call("process", {"params": {"object": None, "method": "stop_count"}},
                        timeout=60)
    print(json.dumps(reply["data"]), flush=True)
    time.sleep(600)
""")


@pytest.mark.config(gateway={"ping_interval": 1, "ping_timeout": 1})
def test_a_frozen_client_frees_the_robot_and_its_stop_hooks_run(connect, appliance):
    setup = connect(wait_timeout=30)
    assert upload(setup, "testbot")["status"] == "success"
    assert setup.call("start", {}, timeout=60)["status"] == "success"
    setup.disconnect()
    appliance.wait_log(r"running 2 stop hook\(s\)", 1)

    frozen = subprocess.Popen([sys.executable, "-c", FROZEN_CLIENT, appliance.url],
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        before = json.loads(frozen.stdout.readline())
        assert before["module"] == 1, before
        os.kill(frozen.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        appliance.wait_log(r"controller \S+ disconnected; running the project's stop hooks", 2)
        freed_after = time.monotonic() - stopped_at
        assert freed_after < 10, freed_after      # ping_interval + ping_timeout = 2 s
        successor = connect(wait_timeout=30)
        counts = wait_for(lambda: (lambda c: c if c["module"] == 2 else None)(
            call(successor, None, "stop_count")["data"]), 30, "stop hooks")
        assert counts == {"module": 2, "bot": 2, "class": 0}
        appliance.wait_log(r"running 2 stop hook\(s\)", 2)
    finally:
        frozen.kill()
        frozen.wait()


POLLING = "/socket.io/?EIO=4&transport=polling"


def test_cors_refuses_other_origins_by_default(appliance):
    evil = requests.get(appliance.url + POLLING, headers={"Origin": "http://evil.example"},
                        timeout=30)
    assert evil.status_code == 400, (evil.status_code, evil.text)
    assert "Access-Control-Allow-Origin" not in evil.headers
    plain = requests.get(appliance.url + POLLING, timeout=30)      # no Origin: not a browser
    assert plain.status_code == 200 and '"sid"' in plain.text


@pytest.mark.config(gateway={"cors_allowed_origins": ["http://ui.example"]})
def test_cors_allows_the_configured_origin(appliance):
    allowed = requests.get(appliance.url + POLLING, headers={"Origin": "http://ui.example"},
                           timeout=30)
    assert allowed.status_code == 200, (allowed.status_code, allowed.text)
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://ui.example"
    evil = requests.get(appliance.url + POLLING, headers={"Origin": "http://evil.example"},
                        timeout=30)
    assert evil.status_code == 400
    assert evil.headers.get("Access-Control-Allow-Origin") != "http://evil.example"
