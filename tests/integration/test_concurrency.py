"""Calls run concurrently, time out at max_execution_time, and survive the executor dying."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, upload


def process(obj, method, args=None):
    params = {"object": obj, "method": method}
    if args is not None:
        params["args"] = args
    return {"params": params}


def emit_timed(client, payload, replies):
    """Send a process call without waiting; its reply lands in ``replies`` with the time."""
    sent = time.monotonic()
    client.emit("process", payload, callback=lambda ack: replies.append((time.monotonic() - sent, ack)))


def test_quick_calls_are_not_delayed_by_slow_ones(client):
    ok(upload(client, "testbot"))
    slow = []
    for _ in range(3):
        emit_timed(client, process("bot", "sleep", [3]), slow)
    # Sent after the slow calls on the same connection, so they reach the executor first.
    started = time.monotonic()
    quick = call(client, "bot", "incr")
    elapsed = time.monotonic() - started
    assert quick == {"status": "success", "message": "bot.incr returned", "data": 1}
    assert not slow, "a slow call finished before the quick one: %r" % slow
    assert elapsed < 2.0, "the quick call took %.2f s behind 3 s calls" % elapsed

    # Many callers at once from threads (python-socketio's Client.call is thread-safe).
    results = []

    def quick_call():
        sent = time.monotonic()
        reply = call(client, None, "ping")
        results.append((time.monotonic() - sent, reply, len(slow)))

    threads = [threading.Thread(target=quick_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8
    for seconds, reply, slow_done in results:
        assert reply["status"] == "success" and reply["data"] == "pong", reply
        assert slow_done == 0 and seconds < 2.0, (seconds, slow_done)

    wait_for(lambda: len(slow) == 3, 30, "the slow calls")
    assert all(ack == {"status": "success", "message": "bot.sleep returned", "data": 3}
               for _, ack in slow)
    assert all(seconds >= 2.9 for seconds, _ in slow)


@pytest.mark.config(executor={"max_execution_time": 1})
def test_call_over_max_execution_time_gets_an_error_and_the_executor_keeps_serving(
        client, appliance):
    ok(upload(client, "testbot"))
    pid = call(client, "bot", "state")["data"]["pid"]
    started = time.monotonic()
    reply = call(client, "bot", "sleep", [2.5])
    elapsed = time.monotonic() - started
    assert reply["status"] == "error", reply
    assert "max_execution_time" in reply["message"], reply
    assert reply["data"] == {"code": "timeout"}, reply
    assert 0.9 <= elapsed < 4.0, "the time-out reply came after %.2f s" % elapsed
    # The executor keeps serving, in the same process, with its state.
    assert call(client, "bot", "incr")["data"] == 1
    assert call(client, "bot", "state")["data"]["pid"] == pid
    assert appliance.executor_pid() == pid
    # The abandoned call's late result is dropped, and replies still match their calls.
    appliance.wait_log(r"finished after its time limit", timeout=30)
    assert call(client, "bot", "add", [1, 2])["data"] == 3
    assert call(client, "bot", "incr")["data"] == 2


def _kill_externally(client, appliance):
    # A quick call sent after the slow ones comes back once they are all running.
    assert call(client, None, "ping")["data"] == "pong"
    os.kill(appliance.executor_pid(), signal.SIGKILL)


def _call_and_forget(method, args):
    def kill(client, appliance):
        client.emit("process", process("bot", method, args))
    return kill


@pytest.mark.parametrize("kill", [
    _call_and_forget("die", [3]),                             # os._exit in user code
    _call_and_forget("kill_self", [int(signal.SIGKILL)]),     # the process kills itself
    _kill_externally,                                         # killed from outside
], ids=["os_exit", "kill_self", "external_sigkill"])
def test_executor_death_fails_calls_in_flight_at_once(client, appliance, kill):
    ok(upload(client, "testbot"))
    appliance.wait_executors(2)
    assert call(client, "bot", "incr")["data"] == 1
    old_pid = call(client, "bot", "state")["data"]["pid"]
    in_flight = []
    for _ in range(3):
        emit_timed(client, process("bot", "sleep", [10]), in_flight)
    died_at = time.monotonic()
    kill(client, appliance)
    wait_for(lambda: len(in_flight) == 3, 10, "errors for the calls in flight")
    waited = time.monotonic() - died_at
    assert waited < 5.0, "the calls in flight failed only after %.2f s" % waited
    for _, ack in in_flight:
        assert ack["status"] == "error", ack
        assert "executor" in ack["message"], ack
        assert ack["data"] == {"code": "executor_died"}, ack
    # Restarted: later calls work again, on a fresh executor with the same project.
    appliance.wait_executors(3)
    reply = call(client, "bot", "state")
    assert reply["status"] == "success", reply
    assert reply["data"]["pid"] != old_pid and reply["data"]["counter"] == 0
    assert call(client, "bot", "incr")["data"] == 1


def test_death_of_the_calling_method_itself_is_an_error(client, appliance):
    ok(upload(client, "testbot"))
    started = time.monotonic()
    reply = call(client, "bot", "die", [5])
    assert time.monotonic() - started < 5.0
    assert reply["status"] == "error" and "executor" in reply["message"], reply
    assert reply["data"] == {"code": "executor_died"}, reply
    assert call(client, None, "ping")["data"] == "pong"


def test_death_is_detected_without_waiting_for_the_restart(client, appliance):
    """The gateway sees the executor die from its socket, not from its successor's Hello:
    with the supervisor frozen (no restart, as during a crash back-off), a call in flight
    still fails within seconds."""
    ok(upload(client, "outputbot"))
    replies = []
    emit_timed(client, process(None, "slow", [30]), replies)
    appliance.wait_log("slow call started")        # the call is running in the executor
    supervisor = appliance.process.pid
    os.kill(supervisor, signal.SIGSTOP)
    try:
        os.kill(appliance.executor_pid(), signal.SIGKILL)
        wait_for(lambda: replies, 10, "the reply to the call in flight")
    finally:
        os.kill(supervisor, signal.SIGCONT)
    elapsed, reply = replies[0]
    assert reply["status"] == "error"
    assert "exited during the call" in reply["message"], reply
    assert reply["data"] == {"code": "executor_died"}, reply
    assert elapsed < 15
