"""Unit tests for gateway.packet_json: every event gets its ack, whatever JSON fails on."""
from __future__ import annotations

import json

import pytest

from gateway import packet_json
from shared import protocol


def test_an_ack_that_cannot_be_encoded_becomes_an_error_ack():
    text = packet_json.dumps([protocol.success("returned", {"values": {1, 2}})])
    [reply] = json.loads(text)
    assert reply["status"] == "error" and reply["data"] == {"code": "not_json"}
    assert reply["message"].startswith("the reply cannot be sent as JSON: TypeError")


def test_a_nan_in_an_ack_becomes_an_error_ack():
    text = packet_json.dumps([protocol.success("returned", float("nan"))], allow_nan=False)
    [reply] = json.loads(text)
    assert reply["message"].startswith("the reply cannot be sent as JSON: Value")
    assert reply["data"] == {"code": "not_json"}


def test_anything_else_that_cannot_be_encoded_still_raises():
    with pytest.raises(TypeError):
        packet_json.dumps(["event", {1, 2}])


def test_a_packet_too_deep_to_decode_reaches_its_handler_with_a_marker():
    deep = '["process", ' + "[" * 100000 + "]" * 100000 + "]"
    assert packet_json.loads(deep) == ["process", packet_json.TOO_DEEP]
    assert packet_json.loads("[" * 100000 + "]" * 100000) == ["*", packet_json.TOO_DEEP]
    assert packet_json.loads('["ok", 1]') == ["ok", 1]
