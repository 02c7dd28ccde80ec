"""Fuzzing the protocol: arbitrary JSON at every event, structured-but-random payloads, and
unknown event names. Every reply is a well-formed ``{status, message, data}``, and neither
process dies (the same gateway and executor pids serve a normal call at the end).

One appliance serves the whole module (the examples are cheap; starting an appliance is
not). It runs the default project, whose names (``sport_client``, ``StandUp``, ...) random
text practically never hits, so fuzzed ``process`` calls do not move the simulated robot.
"""
from __future__ import annotations

import pytest
import socketio
from hypothesis import HealthCheck, given, settings, strategies as st

from shared import error_codes, protocol
from tests.appliance import Appliance, wait_for
from tests.integration.conftest import call, upload

KEYS = ["data", "zip_data", "params", "object", "method", "args", "size", "sha256", "name",
        "offset"]
scalars = (st.none() | st.booleans() | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children,
                                        max_size=4)),
    max_leaves=12)
events = st.sampled_from(list(protocol.CLIENT_EVENTS))
# python-socketio dispatches a client's EVENT packet named "connect" or "disconnect" to the
# connection handlers; those names have their own test below (with a fresh appliance, since
# they may disturb the session), the shared appliance gets everything else.
SOCKETIO_RESERVED = ["connect", "disconnect"]
TRICKY = ["message", "callback", "*", "", " process", "PROCESS", "connect_error",
          protocol.SERVER_INFO, protocol.LOG, "robotctl:"]
unknown_events = (st.sampled_from(TRICKY) | st.text(min_size=1, max_size=30)).filter(
    lambda name: name not in protocol.CLIENT_EVENTS and name not in SOCKETIO_RESERVED)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """(appliance, client, pids at the start)."""
    app = Appliance(tmp_path_factory.mktemp("fuzz")).start()
    client = socketio.Client(reconnection=False)
    client.connect(app.url, transports=["websocket"])
    pids = (app.gateway_pid(), app.executor_pid())
    yield app, client, pids
    if client.connected:
        client.disconnect()
    app.stop()


def check(reply, what):
    assert isinstance(reply, dict), (what, reply)
    assert set(reply) == {"status", "message", "data"}, (what, reply)
    assert reply["status"] in ("success", "error"), (what, reply)
    assert isinstance(reply["message"], str), (what, reply)
    if reply["status"] == "error":
        assert reply["data"]["code"] in error_codes.REPLY_CODES, (what, reply)
    return reply


def send(client, event, payload):
    # python-socketio sends None as "no argument", anything else as the one argument.
    return check(client.call(event, payload, timeout=15), (event, payload))


@settings(FUZZ, max_examples=150)
@given(event=events, payload=json_values)
def test_arbitrary_json_at_every_event(fuzzed, event, payload):
    send(fuzzed[1], event, payload)


@settings(FUZZ, max_examples=60)
@given(obj=st.none() | st.text(max_size=12), method=json_values | st.text(max_size=12),
       args=json_values)
def test_process_with_random_names_and_arguments(fuzzed, obj, method, args):
    reply = send(fuzzed[1], "process", {"params": {"object": obj, "method": method,
                                                   "args": args}})
    assert reply["status"] == "error", reply       # no such object or method
    assert reply["data"]["code"] in ("invalid_payload", "unknown_object", "unknown_method"), reply


@settings(FUZZ, max_examples=60)
@given(size=st.integers(), sha256=st.text(alphabet="0123456789abcdefABCDEF", min_size=60,
                                          max_size=66) | json_values,
       offset=st.integers() | json_values, data=st.text(max_size=40) | json_values)
def test_chunked_upload_with_random_fields(fuzzed, size, sha256, offset, data):
    client = fuzzed[1]
    send(client, "upload_begin", {"size": size, "sha256": sha256, "name": "fuzz.zip"})
    send(client, "upload_chunk", {"offset": offset, "data": data})
    committed = send(client, "upload_commit", {})
    assert committed["status"] == "error", committed
    assert committed["data"]["code"] in ("no_upload", "invalid_payload", "upload_mismatch"), committed


@settings(FUZZ, max_examples=80)
@given(event=unknown_events, payload=json_values)
def test_unknown_events(fuzzed, event, payload):
    reply = send(fuzzed[1], event, payload)
    assert reply["status"] == "error" and reply["data"]["code"] == "unknown_event", reply


@pytest.mark.parametrize("event", SOCKETIO_RESERVED)
@pytest.mark.parametrize("payload", [None, {}], ids=["no-payload", "empty-object"])
def test_reserved_socketio_names_are_unknown_events(connect, appliance, event, payload):
    """An EVENT packet named like a connection handler is just an unknown event: an error
    reply, and the sender's session (controller role, pushes) is unchanged."""
    client = connect()
    reply = send(client, event, payload)
    assert reply["status"] == "error" and reply["data"]["code"] == "unknown_event", reply
    status = client.call("status", {}, timeout=15)["data"]
    assert status["controller"]["address"].startswith("127.0.0.1:"), status
    assert call(client, "sport_client", "GetState")["status"] == "success"
    ticks = []
    client.on("tick", ticks.append)
    assert upload(client, "testbot")["status"] == "success"
    assert call(client, "bot", "burst", [3])["data"] == 3
    wait_for(lambda: len(ticks) == 3, 15, "the pushes")


def test_both_processes_survived(fuzzed):
    app, client, pids = fuzzed
    assert client.connected
    assert (app.gateway_pid(), app.executor_pid()) == pids
    reply = call(client, "sport_client", "GetState")
    assert reply["status"] == "success", reply
    status = client.call("status", {}, timeout=30)
    assert status["data"]["gateway"]["pid"] == pids[0]
    assert status["data"]["executor"]["pid"] == pids[1]
    assert app.count(r"Traceback|internal error") == 0, app.log[-3000:]
