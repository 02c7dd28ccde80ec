"""Unit tests for shared.protocol: the ack shape, payload readers and reserved push names."""
from __future__ import annotations

import base64
import re

import pytest

from shared import protocol
from shared.protocol import ProtocolError, check_push_event, parse_process, parse_update

ZIP = b"PK\x03\x04 pretend this is a zip \x00\xff"
B64 = base64.b64encode(ZIP).decode("ascii")


# -- the ack shape --------------------------------------------------------------------------

def test_every_ack_has_status_message_data():
    assert protocol.success("done", {"a": 1}) == {
        "status": "success", "message": "done", "data": {"a": 1}}
    assert protocol.success("ok") == {"status": "success", "message": "ok", "data": None}
    assert protocol.error("bad", {"received": 1}, code="upload_out_of_order") == {
        "status": "error", "message": "bad", "data": {"received": 1, "code": "upload_out_of_order"}}
    assert protocol.error("bad", code="timeout") == {
        "status": "error", "message": "bad", "data": {"code": "timeout"}}


def test_an_error_reply_cannot_be_built_without_a_known_code():
    with pytest.raises(TypeError):
        protocol.error("bad")
    with pytest.raises(ValueError, match="not an error code"):
        protocol.error("bad", code="no_such_code")
    assert protocol.error_code(protocol.error("bad", code="observer")) == "observer"
    assert protocol.error_code(protocol.success("ok", {"code": "observer"})) is None


@pytest.mark.parametrize("value, expected", [
    ({"status": "success", "message": "m", "data": None}, True),
    ({"status": "error", "message": "m", "data": {"x": 1}}, True),
    ({"status": "ok", "message": "m", "data": None}, False),
    ({"status": "success", "message": 5, "data": None}, False),
    ({"status": "success", "message": "m"}, False),
    ({"status": "success", "message": "m", "data": None, "extra": 1}, False),
    (["success", "m", None], False),
    (None, False),
])
def test_is_reply(value, expected):
    assert protocol.is_reply(value) is expected


# -- update ---------------------------------------------------------------------------------

def test_update_decodes_data():
    assert parse_update({"data": B64}) == ZIP


def test_update_accepts_the_seed_alias_zip_data():
    assert parse_update({"zip_data": B64}) == ZIP


def test_update_takes_binary_data_as_it_is():
    """A Socket.IO attachment (a browser's ``await file.arrayBuffer()``) arrives as bytes."""
    assert parse_update({"data": ZIP}) == ZIP
    assert parse_update({"zip_data": ZIP}) == ZIP


def test_update_prefers_data_over_zip_data():
    other = base64.b64encode(b"other").decode()
    assert parse_update({"data": B64, "zip_data": other}) == ZIP


@pytest.mark.parametrize("payload, words", [
    ({"data": "not base64!"}, ["data", "base64"]),
    ({"data": "QUJDR"}, ["data", "base64", "offset 5"]),        # one character too many
    ({"zip_data": "%%%"}, ["zip_data", "base64"]),
    ({"data": ""}, ["data", "non-empty string"]),
    ({"data": 5}, ["data", "a number"]),
    ({"data": None}, ["data", "null"]),
    ({"data": ["QUJD"]}, ["data", "a list"]),
    ({}, ["zip_data", "non-empty string"]),
    (None, ["zip_data"]),
    ("QUJD", ["payload", "object", "a string"]),
    ([B64], ["payload", "object", "a list"]),
])
def test_update_refuses_bad_payloads_saying_why(payload, words):
    with pytest.raises(ProtocolError) as caught:
        parse_update(payload)
    for word in words:
        assert word in str(caught.value), str(caught.value)


# -- process --------------------------------------------------------------------------------

@pytest.mark.parametrize("params, expected", [
    ({"object": "bot", "method": "add", "args": {"a": 1, "b": 2}}, ("bot", "add", {"a": 1, "b": 2})),
    ({"object": "bot", "method": "add", "args": [1, 2]}, ("bot", "add", [1, 2])),
    ({"object": "bot", "method": "state", "args": None}, ("bot", "state", None)),
    ({"object": "bot", "method": "state"}, ("bot", "state", None)),
    ({"object": "bot", "method": "state", "args": {}}, ("bot", "state", {})),
    ({"object": "bot", "method": "state", "args": []}, ("bot", "state", [])),
    ({"object": None, "method": "ping"}, (None, "ping", None)),
    ({"method": "ping"}, (None, "ping", None)),
    ({"object": "", "method": "ping"}, (None, "ping", None)),
    ({"object": "cam", "method": "store", "args": [b"\x89PNG"]}, ("cam", "store", [b"\x89PNG"])),
    ({"object": "cam", "method": "store", "args": {"png": b""}}, ("cam", "store", {"png": b""})),
])
def test_process_reads_object_method_args(params, expected):
    assert parse_process({"params": params}) == expected


def test_process_ignores_unknown_keys():
    payload = {"params": {"object": "bot", "method": "x", "extra": 1}, "other": True}
    assert parse_process(payload) == ("bot", "x", None)


@pytest.mark.parametrize("payload, words", [
    (None, ["params", "object", "null"]),
    ({}, ["params", "object"]),
    ({"params": 3}, ["params", "a number"]),
    ({"params": []}, ["params", "a list"]),
    ({"params": {}}, ["params.method", "non-empty string"]),
    ({"params": {"object": "bot"}}, ["params.method"]),
    ({"params": {"object": "bot", "method": ""}}, ["params.method"]),
    ({"params": {"object": "bot", "method": 5}}, ["params.method", "a number"]),
    ({"params": {"object": 1, "method": "x"}}, ["params.object", "string", "a number"]),
    ({"params": {"object": ["bot"], "method": "x"}}, ["params.object", "a list"]),
    ({"params": {"object": "bot", "method": "x", "args": "nope"}}, ["params.args", "a string"]),
    ({"params": {"object": "bot", "method": "x", "args": 5}}, ["params.args", "a number"]),
    ({"params": {"object": "bot", "method": "x", "args": True}}, ["params.args", "a boolean"]),
    ({"params": {"object": "bot", "method": "x", "args": b"raw"}}, ["params.args", "binary"]),
    ({"params": {"object": "bot", "method": b"x"}}, ["params.method", "binary data"]),
    ("process", ["payload", "a string"]),
    (5, ["payload", "a number"]),
])
def test_process_refuses_bad_payloads_saying_why(payload, words):
    with pytest.raises(ProtocolError) as caught:
        parse_process(payload)
    for word in words:
        assert word in str(caught.value), str(caught.value)


# -- push names -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tick", "robot_state", "loaded", "my:event", "Callback",
                                  "update_available", "x"])
def test_ordinary_event_names_may_be_pushed(name):
    assert check_push_event(name) == name


@pytest.mark.parametrize("name", ["callback", "update", "start", "process", "connect",
                                  "connect_error", "disconnect", "message", "error", "ping",
                                  "pong", "reconnect"])
def test_reserved_names_are_refused_by_name(name):
    with pytest.raises(ValueError) as caught:
        check_push_event(name)
    assert repr(name) in str(caught.value) and "reserved" in str(caught.value)


def test_every_client_event_is_reserved():
    for event in protocol.CLIENT_EVENTS:
        with pytest.raises(ValueError):
            check_push_event(event)
    assert {"update", "start", "process"} <= set(protocol.CLIENT_EVENTS)


@pytest.mark.parametrize("name", ["robotctl:x", "robotctl:server_info", protocol.SERVER_INFO])
def test_the_server_prefix_is_refused(name):
    with pytest.raises(ValueError) as caught:
        check_push_event(name)
    assert "robotctl:" in str(caught.value) and "reserved" in str(caught.value)


@pytest.mark.parametrize("name", ["", None, 5, b"tick", ["tick"]])
def test_non_string_or_empty_names_are_refused(name):
    with pytest.raises(ValueError) as caught:
        check_push_event(name)
    assert "non-empty string" in str(caught.value)


def test_server_events_all_carry_the_prefix():
    server_events = [value for name, value in vars(protocol).items()
                     if name.isupper() and isinstance(value, str)
                     and value.startswith(protocol.SYSTEM_PREFIX)]
    assert protocol.SERVER_INFO in server_events
    assert "callback" not in server_events


def test_subscribe_reads_rates_and_null_or_zero_is_full_rate():
    assert protocol.parse_subscribe({"rates": {"camera": 5, "pose": 0.5, "a": 0, "b": None}}) \
        == {"camera": 5.0, "pose": 0.5, "a": None, "b": None}


@pytest.mark.parametrize("payload, words", [
    (None, "rates must be an object"),
    ({"rates": [1]}, "rates must be an object"),
    ({"rates": {"camera": -1}}, "rates.camera must be a number of events per second"),
    ({"rates": {"camera": True}}, "rates.camera must be a number"),
    ({"rates": {"camera": float("nan")}}, "rates.camera must be a number"),
    ({"rates": {"robotctl:log": 1}}, "is not an event a project pushes"),
    ({"rates": {"": 1}}, "is not an event a project pushes"),
    ({"rates": {str(i): 1 for i in range(1001)}}, "at most 1000"),
])
def test_subscribe_refuses_bad_payloads_saying_why(payload, words):
    with pytest.raises(protocol.ProtocolError, match=re.escape(words)):
        protocol.parse_subscribe(payload)
