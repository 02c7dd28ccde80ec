"""One controlling client at a time, and what a disconnect does to the project."""
from __future__ import annotations

import time

import pytest
import socketio

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, record, upload


def refusal(data):
    """(message, code) from a connect_error payload, whatever python-socketio's version."""
    if isinstance(data, dict):
        details = data.get("data")
        code = details.get("code") if isinstance(details, dict) else None
        return str(data.get("message")), code
    return str(data), None


def stop_counts_reach(client, at_least):
    """Wait until stop() ran at least ``at_least`` times on the module and on bot; the
    hooks run after the disconnect, concurrently with the next client's first calls."""
    def reached():
        counts = call(client, None, "stop_count")["data"]
        return counts if counts["module"] >= at_least and counts["bot"] >= at_least else None
    return wait_for(reached, 30, "stop hooks x%d" % at_least)


def test_second_client_is_refused_and_sees_why(connect, appliance):
    first = connect()
    ok(upload(first, "testbot"))
    ok(first.call("start", {}))
    assert call(first, "bot", "incr")["data"] == 1

    second = socketio.Client(reconnection=False)
    errors = record(second, "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        second.connect(appliance.url, transports=["websocket"], wait_timeout=30)
    wait_for(lambda: errors, 10, "connect_error on the refused client")
    message, code = refusal(errors[0])
    assert message.startswith("busy"), errors
    assert code in (None, "busy"), errors
    assert not second.connected

    # The first client is unaffected: still connected, same state, nothing was stopped.
    assert first.connected
    assert call(first, "bot", "incr")["data"] == 2
    assert call(first, None, "stop_count")["data"] == {"module": 0, "bot": 0, "class": 0}


def test_refused_client_can_connect_once_the_first_one_left(connect, appliance):
    first = connect()
    second = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        second.connect(appliance.url, transports=["websocket"], wait_timeout=30)
    first.disconnect()
    third = connect()
    assert call(third, "sport_client", "GetState")["status"] == "success"


def test_disconnect_runs_stop_on_instances_and_the_module_not_classes(connect, appliance):
    first = connect()
    ok(upload(first, "testbot"))
    ok(first.call("start", {}))
    assert [call(first, "bot", "incr")["data"] for _ in range(2)] == [1, 2]
    pid = call(first, "bot", "state")["data"]["pid"]
    first.disconnect()

    # A reconnect works at once and sees the same loaded project and state.
    second = connect()
    counts = stop_counts_reach(second, 1)
    # bot and alias are one instance: stopped once; NotAnInstance is a class: never.
    assert counts == {"module": 1, "bot": 1, "class": 0}
    assert call(second, "bot", "incr")["data"] == 3
    state = call(second, "bot", "state")["data"]
    assert state["pid"] == pid and state["stopped"] == 1
    assert appliance.executor_pid() == pid
    start = second.call("start", {})
    assert start["status"] == "success" and start["message"] == "Project already started"

    second.disconnect()
    third = connect()
    assert stop_counts_reach(third, 2) == {"module": 2, "bot": 2, "class": 0}
    assert call(third, "bot", "incr")["data"] == 4
    assert call(third, "bot", "state")["data"]["pid"] == pid


def test_stop_hooks_do_not_run_while_the_project_is_not_loaded(connect):
    first = connect()
    ok(upload(first, "testbot"))
    first.disconnect()            # never started: nothing to stop
    second = connect()
    assert call(second, None, "stop_count")["data"] == {"module": 0, "bot": 0, "class": 0}


def test_disconnect_halts_the_default_robot_and_its_state_pushes(connect):
    first = connect(events=("robot_state",))
    assert call(first, "sport_client", "StandUp")["data"] == {"posture": "standing"}
    moving = call(first, "sport_client", "Move", {"vx": 0.5, "vy": 0, "vyaw": 0.2})
    assert moving["status"] == "success" and moving["data"]["moving"] is True
    wait_for(lambda: len(first.received["robot_state"]) >= 2, 30, "robot_state pushes")
    assert first.received["robot_state"][-1]["moving"] is True
    first.disconnect()

    second = connect(events=("robot_state",))
    state = wait_for(lambda: (lambda s: s if not s["moving"] else None)(
        call(second, "sport_client", "GetState")["data"]), 30, "the robot to stop moving")
    assert state["posture"] == "standing"          # stop() halts motion, keeps the posture
    assert state["velocity"] == {"vx": 0.0, "vy": 0.0, "vyaw": 0.0}
    # The 10 Hz push thread has ended: nothing arrives over several of its periods. (A push
    # already on its way when stop() ran may still land during the first 0.3 s.)
    time.sleep(0.3)
    before = len(second.received["robot_state"])
    time.sleep(0.6)
    assert len(second.received["robot_state"]) == before, second.received["robot_state"][before:]
    # and it starts again when the robot is told to walk
    assert call(second, "sport_client", "Move", [0.3, 0, 0])["data"]["moving"] is True
    wait_for(lambda: len(second.received["robot_state"]) > before, 30, "robot_state again")
