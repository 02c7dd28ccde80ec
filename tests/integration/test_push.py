"""Server pushes: push_message from the project reaches the client as Socket.IO events."""
from __future__ import annotations

import time

import pytest

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, record, upload


def fence(client, received):
    """Push a marker event and wait for it: every event pushed before it has arrived too."""
    marker = len(received)
    assert call(client, "bot", "burst", [1, "fence"])["status"] == "success"
    wait_for(lambda: len(received) > marker, 30, "the fence event")


def indices(events):
    return [event["i"] for event in events]


@pytest.fixture
def client(connect):
    """A client that sees events in the order the server sent them."""
    return connect(ordered=True)


def test_push_at_import_time_arrives(client):
    loaded = record(client, "loaded")
    ok(upload(client, "import_pusher"))
    assert loaded == []                  # imported by start, not by the update
    ok(client.call("start", {}))
    wait_for(lambda: loaded, 30, "the 'loaded' event pushed while main.py was imported")
    assert loaded[0]["stage"] == "import"
    # and the placeholder ``push_message = None`` after it did not disable pushing
    assert call(client, None, "again")["data"] == "pushed"
    wait_for(lambda: len(loaded) == 2, 30, "the 'loaded' event pushed by a call")
    assert [event["stage"] for event in loaded] == ["import", "call"]


def test_push_after_import_works_despite_the_placeholder(client):
    """testbot declares ``push_message = None``; methods pushing later still work."""
    ticks = record(client, "tick")
    ok(upload(client, "testbot"))
    assert call(client, "bot", "burst", [3])["data"] == 3
    wait_for(lambda: len(ticks) == 3, 30, "3 ticks")
    assert indices(ticks) == [0, 1, 2]


def test_pushes_right_after_an_executor_restart_are_not_lost(client):
    ticks = record(client, "tick")
    ok(upload(client, "testbot"))
    # No waiting of any kind: the new executor pushes as soon as it is asked to.
    ok(client.call("start", {}))
    assert call(client, "bot", "burst", [50])["data"] == 50
    wait_for(lambda: len(ticks) >= 50, 30, "50 ticks")
    assert indices(ticks) == list(range(50))


def test_push_from_a_user_thread(client):
    ticks = record(client, "tick")
    ok(upload(client, "testbot"))
    assert call(client, "bot", "push_from_thread", [200])["data"] == "started"
    wait_for(lambda: len(ticks) >= 200, 30, "200 ticks from the project's thread")
    assert indices(ticks) == list(range(200))


def test_order_is_preserved_over_5000_events(client):
    ticks = record(client, "tick")
    dropped = record(client, "robotctl:push_dropped")
    ok(upload(client, "testbot"))
    assert call(client, "bot", "burst", [5000])["data"] == 5000
    wait_for(lambda: len(ticks) >= 5000, 60, "5000 ticks")
    assert indices(ticks) == list(range(5000))
    assert not dropped


def test_a_burst_of_20000_does_not_starve_other_traffic(client):
    ticks = record(client, "tick")
    dropped = record(client, "robotctl:push_dropped")
    ok(upload(client, "testbot"))
    burst = []
    client.emit("process", {"params": {"object": "bot", "method": "burst", "args": [20000]}},
                callback=burst.append)
    wait_for(lambda: ticks, 30, "the first tick of the burst")
    started = time.monotonic()
    pong = call(client, None, "ping")
    elapsed = time.monotonic() - started
    delivered_by_then = len(ticks)
    assert pong["data"] == "pong"
    assert elapsed < 3.0, "ping took %.2f s during a burst (%d ticks delivered by then)" % (
        elapsed, delivered_by_then)
    wait_for(lambda: burst, 60, "the burst's own reply")
    assert burst[0]["data"] == 20000
    # Everything arrives in order; if the client's queue overflowed, the client was told.
    fence(client, record(client, "fence"))
    received = indices(ticks)
    assert received == sorted(set(received)) and received[-1] == 19999
    # (a drop report may follow the events it is about)
    wait_for(lambda: 20000 - len(received) == sum(report["count"] for report in dropped), 10,
             "drop reports accounting for every missing tick (%d missing, reports %r)"
             % (20000 - len(received), dropped))


def test_reserved_names_are_refused_with_a_clear_error(client):
    ok(upload(client, "testbot"))
    for name in ("callback", "update", "start", "process", "connect", "disconnect",
                 "robotctl:x", ""):
        reply = call(client, "bot", "push_reserved", [name])
        assert reply["status"] == "error", (name, reply)
        assert reply["data"]["code"] == "user_exception", reply
        assert reply["message"].startswith("ValueError: push_message"), reply
        assert repr(name) in reply["message"] or "robotctl:" in reply["message"], reply
        assert "(main.py, line" in reply["message"], reply


def test_the_server_never_emits_callback(client):
    callbacks = record(client, "callback")
    fences = record(client, "fence")
    ok(upload(client, "testbot"))
    client.call("start", {})
    assert call(client, "bot", "push_reserved", ["callback"])["data"]["code"] == "user_exception"
    assert call(client, "bot", "burst", [10, "tick"])["status"] == "success"
    assert call(client, "bot", "fail")["data"]["code"] == "user_exception"
    assert call(client, "bot", "incr")["status"] == "success"
    fence(client, fences)
    assert callbacks == []


def test_pushes_without_a_client_are_dropped(connect, appliance):
    first = connect()
    ok(upload(first, "stop_pusher"))
    ok(first.call("start", {}))
    first.disconnect()
    # stop() pushes 10 "stale" events with no client connected, then raises; the gateway
    # logs that error only after it has handled the pushes sent before it.
    appliance.wait_log(r"gateway\.handlers: stop hooks:.*pushed 10 stale events", timeout=30)
    second = connect(events=("stale", "fresh"))
    assert call(second, None, "fresh")["data"] == "pushed"
    wait_for(lambda: second.received["fresh"], 30, "the fresh event")
    assert second.received["stale"] == []
