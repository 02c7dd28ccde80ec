"""Faults on the link: the gateway or the executor dies, a stop() hook hangs."""
from __future__ import annotations

import datetime
import os
import re
import signal
import threading
import time

import pytest
import socketio

from tests.appliance import wait_for
from tests.integration.conftest import call, record, upload

INFO = "robotctl:server_info"
GATEWAY_LOST = r"running (\d+) stop hook\(s\): the gateway went away"


def logged_at(appliance, pattern):
    """When the first log line matching ``pattern`` was written (its timestamp), or None
    when the lines carry no time (under journald)."""
    match = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*" + pattern, appliance.log,
                      re.M)
    if match is None:
        return None
    return datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_gateway_killed_while_walking_stops_the_robot_and_clients_reconnect(appliance):
    client = socketio.Client(reconnection=True, reconnection_delay=0.2,
                             reconnection_delay_max=1)
    infos, states = record(client, INFO), record(client, "robot_state")
    try:
        client.connect(appliance.url, transports=["websocket"], wait_timeout=30)
        wait_for(lambda: infos, 10, "server_info")
        instance, executor_pid = infos[0]["executor_instance"], appliance.executor_pid()
        assert call(client, "sport_client", "StandUp")["status"] == "success"
        moving = call(client, "sport_client", "Move", {"vx": 0.3, "vy": 0, "vyaw": 0})
        assert moving["status"] == "success", moving
        wait_for(lambda: len(states) >= 3, 10, "robot_state while walking")
        assert states[-1]["moving"] is True

        killed_at = time.time()
        os.kill(appliance.gateway_pid(), signal.SIGKILL)
        appliance.wait_log(GATEWAY_LOST, 1, timeout=30)
        noticed_at = time.time()
        stopping_at = logged_at(appliance, GATEWAY_LOST) or noticed_at
        assert stopping_at - killed_at < 2.0, (stopping_at - killed_at, appliance.log[-2000:])

        # The dev supervisor restarts the gateway; the client reconnects by itself and finds
        # the same executor, with the robot standing still.
        appliance.wait_log(r"robotctl gateway \S+ \(pid \d+\) listening", 2)
        wait_for(lambda: client.connected and any(
            info["executor_instance"] == instance for info in infos[1:]), 30,
            "the client reconnected and got server_info")
        state = call(client, "sport_client", "GetState")
        assert state["status"] == "success", state
        assert state["data"]["moving"] is False and state["data"]["posture"] == "standing"
        assert appliance.executor_pid() == executor_pid
        assert appliance.count(r"executor \w+ ready \(pid") == 1
        assert call(client, "sport_client", "StandDown")["status"] == "success"
    finally:
        client.reconnection = False
        client.disconnect()


@pytest.mark.config(executor={"stop_hook_timeout": 1})
def test_a_hanging_stop_hook_is_reported_and_abandoned(connect, appliance):
    first = connect(wait_timeout=30)
    assert upload(first, "hangstop")["status"] == "success"
    assert first.call("start", {}, timeout=60)["status"] == "success"
    first.disconnect()
    second = connect(wait_timeout=30)
    assert call(second, None, "ping")["data"] == "pong"
    appliance.wait_log(r"motor\.stop\(\) did not return within 1 s; it was abandoned", 1)
    assert appliance.count("motor.stop entered") == 1
    assert call(second, None, "stop_calls")["data"] == 1

    # Again, with the first hook still hanging: nothing piles up.
    second.disconnect()
    third = connect(wait_timeout=30)
    assert call(third, None, "ping")["data"] == "pong"
    appliance.wait_log(r"motor\.stop\(\) did not return within 1 s; it was abandoned", 2)
    assert call(third, None, "stop_calls")["data"] == 2
    assert third.call("status", {}, timeout=30)["status"] == "success"


@pytest.mark.config(executor={"stop_hook_timeout": 10})
def test_the_next_client_does_not_wait_for_a_hanging_stop_hook(connect, appliance):
    first = connect(wait_timeout=30)
    assert upload(first, "hangstop")["status"] == "success"
    assert first.call("start", {}, timeout=60)["status"] == "success"
    first.disconnect()
    appliance.wait_log("motor.stop entered", 1)
    began = time.monotonic()
    second = connect(wait_timeout=30)
    assert call(second, None, "ping")["data"] == "pong"
    assert call(second, None, "stop_calls")["data"] == 1
    # Well within the hook's 10 s: the connect and the calls did not wait for it.
    assert time.monotonic() - began < 6, time.monotonic() - began
    assert appliance.count("did not return within") == 0


def test_executor_killed_during_a_call(connect, appliance):
    client = connect(events=(INFO,), wait_timeout=30)
    wait_for(lambda: client.received[INFO], 10, "server_info")
    assert upload(client, "outputbot")["status"] == "success"
    appliance.wait_executors(2)
    wait_for(lambda: len(client.received[INFO]) >= 2, 10, "server_info after the update")
    before = client.received[INFO][-1]
    assert before["last_restart"]["reason"] == "update", before
    old_pid = appliance.executor_pid()

    replies = []
    slow = threading.Thread(target=lambda: replies.append(
        call(client, None, "slow", {"seconds": 120}, timeout=90)), daemon=True)
    slow.start()
    appliance.wait_log("slow call started", 1)
    seen = len(client.received[INFO])
    killed_at = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    slow.join(60)
    assert replies, "no reply to the call in flight"
    answered_after = time.monotonic() - killed_at
    reply = replies[0]
    assert reply["status"] == "error", reply
    assert "the executor exited during the call" in reply["message"], reply
    assert reply["data"] == {"code": "executor_died"}, reply
    assert answered_after < 5, answered_after

    def restarted():
        infos = client.received[INFO][seen:]
        return [i for i in infos if i["executor_instance"] not in (
            None, before["executor_instance"])]
    info = wait_for(restarted, 30, "server_info from the restarted executor")[0]
    assert info["last_restart"]["reason"] == "crash", info
    assert "signal" in info["last_restart"]["detail"], info
    assert "KILL" in info["last_restart"]["detail"], info
    assert info["project"]["sha256"] == before["project"]["sha256"]
    appliance.wait_executors(3)
    assert appliance.executor_pid() != old_pid
    assert call(client, None, "say", {"text": "alive again"})["data"] == "alive again"
    status = client.call("status", {}, timeout=30)["data"]
    assert status["last_restart"]["reason"] == "crash"
    assert status["executor"]["instance"] == info["executor_instance"]


def test_an_update_is_reported_as_the_restart_reason(connect, appliance):
    client = connect(events=(INFO,), wait_timeout=30)
    observer = connect(auth={"role": "observer"}, events=(INFO,), wait_timeout=30)
    wait_for(lambda: client.received[INFO] and observer.received[INFO], 10, "server_info")
    boot = client.received[INFO][0]
    assert boot["last_restart"]["reason"] == "boot"
    ack = upload(client, "testbot")
    assert ack["status"] == "success", ack
    for who in (client, observer):
        infos = wait_for(lambda: [i for i in who.received[INFO] if i["executor_instance"]
                                  not in (None, boot["executor_instance"])], 30,
                         "server_info after the update")
        assert infos[0]["last_restart"]["reason"] == "update", infos
        assert infos[0]["project"]["sha256"] == ack["data"]["sha256"]
        assert infos[0]["project"]["origin"] == "upload"
    assert call(client, None, "ping")["data"] == "pong"
