"""The loop's thread runs a call itself; a slow call loses the loop to another thread, so
quick calls, status, signals and the watchdog never wait behind it (executor.leadership)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, upload

WATCHDOG_SEC = 2.0


def calls_in_flight(client) -> int:
    return ok(client.call("status", {}, timeout=30))["executor"]["calls_in_flight"]


def start_slow(client, method, args=None):
    """Send ``bot.method(args)`` without waiting; its reply lands in the returned list once
    it comes. Returns when the call runs (the executor counts it in flight)."""
    replies = []
    params = {"object": "bot", "method": method}
    if args is not None:
        params["args"] = args
    client.emit("process", {"params": params}, callback=replies.append)
    wait_for(lambda: calls_in_flight(client) == 1, 30, "the slow call to start")
    return replies


def quick_calls_answer(client, slow):
    for _ in range(3):
        assert call(client, "bot", "ping") == {"status": "success", "message": "bot.ping returned",
                                               "data": "pong"}
    assert not slow, "the slow call ended before the quick ones: %r" % slow


@pytest.fixture
def bot(client):
    ok(upload(client, "takeoverbot"))
    ok(client.call("start", {}, timeout=60))
    return client


def test_a_quick_call_answers_while_a_call_computes_in_python(bot):
    slow = start_slow(bot, "spin", [120])
    quick_calls_answer(bot, slow)
    ok(call(bot, "bot", "stop_spinning"))
    wait_for(lambda: slow, 30, "the spinning call's reply")
    assert slow[0]["status"] == "success" and slow[0]["data"] > 0, slow


def test_a_quick_call_answers_while_a_call_is_blocked_in_c(bot):
    slow = start_slow(bot, "read_blocking")
    quick_calls_answer(bot, slow)
    ok(call(bot, "bot", "release", ["done"]))
    wait_for(lambda: slow, 30, "the blocked call's reply")
    assert slow == [{"status": "success", "message": "bot.read_blocking returned", "data": "done"}]


@pytest.mark.supervisor("--watchdog-sec", str(WATCHDOG_SEC))
def test_a_call_that_hangs_forever_stops_neither_the_loop_nor_its_watchdog(bot, appliance):
    pid = appliance.executor_pid()
    slow = start_slow(bot, "hang")
    # Three watchdog periods without a ping would get the executor killed.
    until = time.monotonic() + 3 * WATCHDOG_SEC
    while time.monotonic() < until:
        assert calls_in_flight(bot) == 1
        assert ok(call(bot, "bot", "ping")) == "pong"
    assert appliance.executor_pid() == pid
    assert "stopped pinging its watchdog" not in appliance.log, appliance.log[-3000:]
    assert not slow


def test_sigterm_during_a_long_call_exits_cleanly(bot, appliance):
    slow = start_slow(bot, "hang")
    executors = appliance.count(r"executor \w+ ready \(pid")
    os.kill(appliance.executor_pid(), signal.SIGTERM)
    appliance.wait_log(r"executor \w+ exits \(manual\)")
    appliance.wait_executors(executors + 1)
    wait_for(lambda: slow, 30, "the hung call's error reply")
    assert slow[0]["status"] == "error", slow
    assert "Traceback" not in appliance.log, appliance.log[-3000:]
    assert ok(call(bot, "bot", "ping")) == "pong"


def test_system_exit_in_a_call_gets_one_reply_and_the_loop_goes_on(bot, appliance):
    pid = appliance.executor_pid()
    replies = []
    bot.emit("process", {"params": {"object": "bot", "method": "exit", "args": [4]}},
             callback=replies.append)
    wait_for(lambda: replies, 30, "the reply to sys.exit()")
    assert replies[0]["status"] == "error" and replies[0]["message"].startswith("SystemExit: 4")
    assert ok(call(bot, "bot", "ping")) == "pong"
    assert calls_in_flight(bot) == 0
    assert appliance.executor_pid() == pid
    assert len(replies) == 1


def test_user_code_never_runs_on_the_main_thread(bot):
    assert ok(call(bot, "bot", "where")) == {"main_thread": False}
    slow = start_slow(bot, "read_blocking")       # the loop moves to another thread
    assert ok(call(bot, "bot", "where")) == {"main_thread": False}
    ok(call(bot, "bot", "release"))
    wait_for(lambda: slow, 30, "the blocked call's reply")
