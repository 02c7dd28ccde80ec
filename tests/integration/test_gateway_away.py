"""The gateway restarts or stops reading: replies never reach the wrong call, pushes never
block the project, and what was dropped is reported (issue 9)."""
from __future__ import annotations

import os
import signal
import threading

import pytest
import socketio

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, record, upload, wire_order

INFO = "robotctl:server_info"
DROPPED = "robotctl:push_dropped"
# More than the ZeroMQ queues between executor and gateway hold (2 x 100,000).
FLOOD = 400000


def reconnecting(appliance, *events):
    client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    wire_order(client)
    client.received = {name: record(client, name) for name in (INFO,) + events}
    client.connect(appliance.url, transports=["websocket"], wait_timeout=30)
    wait_for(lambda: client.received[INFO], 10, "server_info")
    return client


def kill_gateway_and_reconnect(appliance, client):
    seen = len(client.received[INFO])
    os.kill(appliance.gateway_pid(), signal.SIGKILL)
    appliance.wait_log(r"robotctl gateway \S+ \(pid \d+\) listening", 2)
    wait_for(lambda: client.connected and len(client.received[INFO]) > seen, 30,
             "the client reconnected to the new gateway")


def test_a_late_reply_never_answers_a_call_of_the_restarted_gateway(appliance):
    client = reconnecting(appliance)
    try:
        ok(upload(client, "callpathbot"))
        ok(client.call("start", {}, timeout=60))
        client.emit("process", {"params": {"object": "bot", "method": "slow",
                                           "args": {"tag": "OLD", "seconds": 2.5}}})
        appliance.wait_log("slow OLD started")
        kill_gateway_and_reconnect(appliance, client)
        replies = {}

        def slow(i):
            replies[i] = call(client, "bot", "slow", {"tag": "NEW-%d" % i, "seconds": 4}, timeout=60)
        threads = [threading.Thread(target=slow, args=(i,)) for i in range(1, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        assert {i: r["data"] for i, r in replies.items()} == {
            i: "NEW-%d" % i for i in range(1, 9)}, replies
        assert all(r["status"] == "success" for r in replies.values()), replies
        appliance.wait_log(r"dropped a reply( to request \S+, sent before this gateway "
                           r"started|: no gateway is connected)")
    finally:
        client.reconnection = False
        client.disconnect()


def test_pushes_dropped_while_no_gateway_is_connected_reach_the_clients(appliance):
    client = reconnecting(appliance, DROPPED, "tick")
    try:
        ok(upload(client, "callpathbot"))
        ok(client.call("start", {}, timeout=60))
        ok(call(client, "bot", "start_pushing", {"hz": 500, "seconds": 120}))
        wait_for(lambda: client.received["tick"], 10, "ticks")
        kill_gateway_and_reconnect(appliance, client)
        reports = wait_for(lambda: client.received[DROPPED], 20, "the drop report")
        assert reports[0]["by_event"].get("tick", 0) > 0, reports
        assert reports[0]["count"] == sum(reports[0]["by_event"].values())
        appliance.wait_log(r"dropped a push of 'tick': no gateway is connected")
        # The executor queued nothing for the gateway that was gone: ticks resume from
        # where the project is now, not from a backlog.
        count = len(client.received["tick"])
        wait_for(lambda: len(client.received["tick"]) > count + 10, 10, "ticks again")
    finally:
        client.reconnection = False
        client.disconnect()


def freeze_gateway_until_pushes_drop(appliance, client) -> None:
    """Once ``client`` sees a push flood, freeze the gateway until the executor drops pushes
    (its queue is full), then let it go on."""
    wait_for(lambda: client.received["flood"], 30, "the flood to begin")
    gateway = appliance.gateway_pid()
    os.kill(gateway, signal.SIGSTOP)
    try:
        appliance.wait_log(r"dropped a push of 'flood': the gateway is not reading events",
                           timeout=60)
    finally:
        os.kill(gateway, signal.SIGCONT)


@pytest.mark.config(gateway={"ping_interval": 20, "ping_timeout": 60})
def test_push_message_never_blocks_while_the_gateway_does_not_read(appliance, connect):
    client = connect(events=(DROPPED, "flood", "deep"), ordered=True, wait_timeout=30)
    ok(upload(client, "callpathbot"))
    ok(client.call("start", {}, timeout=60))
    replies = []
    flood = threading.Thread(target=lambda: replies.append(
        call(client, "bot", "flood", {"count": FLOOD}, timeout=300)))
    flood.start()
    freeze_gateway_until_pushes_drop(appliance, client)
    flood.join(330)     # the gateway then works through ~200,000 queued events
    result = ok(replies[0])
    # Blocked sends used to wait 1 s each once ZeroMQ's queue was full.
    assert result["longest_ms"] < 500, result
    assert ok(call(client, "bot", "push_deep", {"levels": 2})) == "pushed"
    wait_for(lambda: client.received["deep"], 60, "the push after the flood")

    def reported():
        return sum(r["by_event"].get("flood", 0) for r in client.received[DROPPED])
    # Nothing vanished silently: every flood event arrived or was counted as dropped, by
    # the executor (queue full) or by the gateway (this client's queue).
    wait_for(lambda: reported() + len(client.received["flood"]) == FLOOD, 300,
             "every flood event received or reported")


@pytest.mark.config(gateway={"ping_interval": 20, "ping_timeout": 60})
def test_print_never_blocks_while_the_gateway_does_not_read(appliance, connect):
    # The project's output reaches clients as robotctl:log pushes. With the gateway frozen
    # and the event queue full (a push flood), print() must still not wait: its lines go
    # to the journal, and what cannot reach the clients is dropped.
    client = connect(events=("flood",), wait_timeout=30)
    ok(upload(client, "callpathbot"))
    ok(client.call("start", {}, timeout=60))
    replies = {}

    def run(name, args):
        replies[name] = call(client, "bot", name, args, timeout=300)
    threads = [threading.Thread(target=run, args=("flood", {"count": FLOOD})),
               threading.Thread(target=run, args=("print_flood", {"seconds": 20}))]
    for thread in threads:
        thread.start()
    freeze_gateway_until_pushes_drop(appliance, client)
    for thread in threads:
        thread.join(330)
    result = ok(replies["print_flood"])
    assert result["lines"] > 0 and result["longest_ms"] < 500, result


def test_pushes_after_the_executor_closed_its_event_channel_are_dropped(appliance, client):
    ok(upload(client, "callpathbot"))
    ok(client.call("start", {}, timeout=60))
    ok(call(client, "bot", "start_pushing", {"hz": 1000, "seconds": 120}))
    ok(call(client, "bot", "push_at_exit"))      # surely after the close, racing or not
    appliance.wait_executors(2)      # the log names the executor the update started
    os.kill(appliance.executor_pid(), signal.SIGTERM)
    appliance.wait_log(r"dropped a push of 'tick': the executor closed its event channel")
    appliance.wait_executors(3)
    assert "Traceback" not in appliance.log, appliance.log[-3000:]
