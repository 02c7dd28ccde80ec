"""Unit tests for shared.messages: the exact frames on the wire, round-trips, and refusals."""
from __future__ import annotations

import math

import pytest

from shared import messages
from shared.messages import Hello, MessageError, Push, Reply, Request, decode

HELLO = Hello("a1b2c3", 4242, "0.1.0", {"name": "project", "origin": "upload"},
              {"reason": "update", "detail": None, "time": 1700000000.0})


def test_reply_frames_are_pinned():
    assert Reply("b1:7", "success", "ok", {"a": 1}).to_frames() == [
        b'{"t":"reply","id":"b1:7","status":"success","message":"ok","data":{"a":1}}']
    assert Reply("b1:8", "error", "boom", {"code": "timeout"}).to_frames() == [
        b'{"t":"reply","id":"b1:8","status":"error","message":"boom","data":{"code":"timeout"}}']


@pytest.mark.parametrize("data", [None, {}, [1], {"code": 5}])
def test_an_error_reply_without_a_code_is_never_made_nor_accepted(data):
    with pytest.raises(MessageError, match="code"):
        Reply("b1:8", "error", "boom", data)
    frames = [messages.dumps({"t": "reply", "id": "b1:8", "status": "error", "message": "boom",
                              "data": data})]
    with pytest.raises(MessageError, match="code"):
        decode(frames)


def test_request_frames_are_pinned_and_the_blob_travels_as_is():
    request = Request("b1:3", "process", {"object": "bot", "method": "incr", "args": None}, "a1b2c3")
    assert request.to_frames() == [
        b'{"t":"request","id":"b1:3","command":"process",'
        b'"args":{"object":"bot","method":"incr","args":null},"instance":"a1b2c3"}']
    blob = bytes(range(256)) * 4          # binary, not base64: sent as a frame of its own
    update = Request("b1:4", "update", {}, "a1b2c3", blob)
    assert update.to_frames() == [
        b'{"t":"request","id":"b1:4","command":"update","args":{},"instance":"a1b2c3",'
        b'"blob":{"_placeholder":true,"num":0}}', blob]


def test_push_frames_are_pinned():
    assert Push("tick", {"i": 1}).to_frames() == [b'{"t":"push","event":"tick"}\n{"i":1}']
    assert Push("ready").to_frames() == [b'{"t":"push","event":"ready"}\nnull']
    assert Push("pose", 1, latest=True).to_frames() == [
        b'{"t":"push","event":"pose","latest":true}\n1']
    assert Push("log", "a\nb").to_frames() == [b'{"t":"push","event":"log"}\n"a\\nb"']


def test_a_push_can_be_read_without_parsing_its_data():
    frames = Push("camera", {"seq": 3, "jpeg": b"\xff\xd8"}, latest=True).to_frames()
    push = decode(frames, parse_push_data=False)
    assert (push.event, push.latest) == ("camera", True)
    assert push.data.json == b'{"seq":3,"jpeg":{"_placeholder":true,"num":0}}'
    assert push.data.attachments == [b"\xff\xd8"]
    assert push.data.value() == {"seq": 3, "jpeg": b"\xff\xd8"}


@pytest.mark.parametrize("frames", [
    [b'{"t":"push","event":"x"}'],                                   # no data
    [b'{"t":"push","event":"x"}\n{"a":1}', b"extra"],               # an attachment unnamed
    [b'{"t":"push","event":"x"}\n[{"_placeholder":true,"num":0},'
     b'{"_placeholder":true,"num":1}]', b"one"],                      # one missing
], ids=["no data", "unnamed", "missing"])
def test_a_push_whose_attachments_do_not_match_is_refused_unparsed(frames):
    with pytest.raises(MessageError):
        decode(frames, parse_push_data=False)
    with pytest.raises(MessageError):
        decode(frames)


def test_unparsed_data_that_is_not_json_fails_when_read():
    push = decode([b'{"t":"push","event":"x"}\n{nope'], parse_push_data=False)
    with pytest.raises(MessageError, match="not JSON"):
        push.data.value()


# -- binary attachments: raw frames after the header, placeholders where they were ----------

PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


def test_binary_push_data_is_an_attachment_frame():
    assert Push("camera", PNG, latest=True).to_frames() == [
        b'{"t":"push","event":"camera","latest":true}\n{"_placeholder":true,"num":0}', PNG]


def test_binary_values_anywhere_become_frames_in_json_order():
    data = {"seq": 7, "jpeg": bytearray(b"\xff\xd8"), "tiles": [b"a", memoryview(b"bc")]}
    assert Push("frames", data).to_frames() == [
        b'{"t":"push","event":"frames"}\n{"seq":7,'
        b'"jpeg":{"_placeholder":true,"num":0},"tiles":[{"_placeholder":true,"num":1},'
        b'{"_placeholder":true,"num":2}]}', b"\xff\xd8", b"a", b"bc"]
    assert decode(Push("frames", data).to_frames()) == Push(
        "frames", {"seq": 7, "jpeg": b"\xff\xd8", "tiles": [b"a", b"bc"]})


def test_binary_reply_and_request_args_are_attachments():
    assert Reply("b1:9", "success", "map.png returned", PNG).to_frames() == [
        b'{"t":"reply","id":"b1:9","status":"success","message":"map.png returned",'
        b'"data":{"_placeholder":true,"num":0}}', PNG]
    request = Request("b1:5", "process", {"object": "cam", "method": "store", "args": [b"\x00"]},
                      "i", b"PK")
    assert request.to_frames() == [
        b'{"t":"request","id":"b1:5","command":"process","args":{"object":"cam","method":"store",'
        b'"args":[{"_placeholder":true,"num":0}]},"instance":"i",'
        b'"blob":{"_placeholder":true,"num":1}}', b"\x00", b"PK"]
    assert decode(request.to_frames()) == Request(
        "b1:5", "process", {"object": "cam", "method": "store", "args": [b"\x00"]}, "i", b"PK")


def test_decoded_attachments_are_bytes():
    for value in (bytearray(b"xy"), memoryview(b"xy"), b"xy"):
        message = decode(Push("raw", {"v": value}).to_frames())
        assert type(message.data["v"]) is bytes and message.data["v"] == b"xy"


def test_a_placeholder_shaped_dict_without_attachments_is_plain_data():
    lookalike = {"_placeholder": True, "num": 0}
    assert decode(Push("x", lookalike).to_frames()) == Push("x", lookalike)


def test_hello_frames_are_pinned():
    assert HELLO.to_frames() == [
        b'{"t":"hello","instance":"a1b2c3","pid":4242,"version":"0.1.0",'
        b'"project":{"name":"project","origin":"upload"},'
        b'"last_restart":{"reason":"update","detail":null,"time":1700000000.0}}']


def test_text_is_utf8_not_escaped():
    frames = Push("état", {"text": "ça marche ✓"}).to_frames()
    assert frames == ['{"t":"push","event":"état"}\n{"text":"ça marche ✓"}'.encode("utf-8")]


@pytest.mark.parametrize("message", [
    Reply("b1:1", "success", "bot.add returned", 5),
    Reply("b1:2", "error", "ValueError: x (main.py, line 3)",
          {"error": {"type": "ValueError"}, "code": "user_exception"}),
    Reply("b1:3", "success", "", [1, "two", None, True, 2.5, {"nested": []}]),
    Push("robot_state", {"pose": {"x": 0.25}, "moving": False}),
    Push("empty"),
    Push("camera", {"seq": 1}, latest=True),
    Request("b1:5", "start", {}),
    Request("b1:6", "process", {"object": None, "method": "ping", "args": [1, 2]}, "inst"),
    Request("b1:7", "update", {}, "inst", b"PK\x03\x04 zip bytes"),
    Request("b1:8", "update", {}, "inst", b""),
    Request("b1:9", "process", {"object": None, "method": "save", "args": {"png": b"\x89PNG"}}, "i"),
    Reply("b1:4", "success", "snapshot returned", {"png": b"\x00" * 1000, "size": [160, 120]}),
    Push("camera", b"", latest=True),
    HELLO,
], ids=lambda m: type(m).__name__)
def test_round_trip(message):
    assert decode(message.to_frames()) == message


def test_decode_keeps_large_ids_and_unicode():
    reply = Reply("b1:%d" % (2 ** 53 + 1), "success", "größe", {"ü": "✓"})
    assert decode(reply.to_frames()) == reply


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"x": [math.nan]}])
def test_nan_and_infinity_cannot_be_encoded(value):
    with pytest.raises(ValueError):
        Reply("b1:1", "success", "x", value).to_frames()
    with pytest.raises(ValueError):
        Push("tick", value).to_frames()


def test_values_json_cannot_carry_raise_type_error():
    with pytest.raises(TypeError):
        Reply("b1:1", "success", "x", {1, 2}).to_frames()
    with pytest.raises(TypeError):
        Push("tick", object()).to_frames()


MALFORMED = {
    "no frames": [],
    "empty header": [b""],
    "not json": [b"not json"],
    "not utf-8": [b"\xff\xfe"],
    "a list": [b"[1, 2]"],
    "a string": [b'"reply"'],
    "null": [b"null"],
    "no type": [b"{}"],
    "unknown type": [b'{"t":"bogus"}'],
    "type not a string": [b'{"t":5}'],
    "reply without id": [b'{"t":"reply","status":"success","message":"m"}'],
    "reply id a number": [b'{"t":"reply","id":7,"status":"success","message":"m"}'],
    "reply id a boolean": [b'{"t":"reply","id":true,"status":"success","message":"m"}'],
    "reply id a float": [b'{"t":"reply","id":1.5,"status":"success","message":"m"}'],
    "reply status null": [b'{"t":"reply","id":"b1:1","status":null,"message":"m"}'],
    "reply without message": [b'{"t":"reply","id":"b1:1","status":"success"}'],
    "push without event": [b'{"t":"push","data":1}'],
    "push event a list": [b'{"t":"push","event":["tick"]}'],
    "request without args": [b'{"t":"request","id":"b1:1","command":"start"}'],
    "request args a list": [b'{"t":"request","id":"b1:1","command":"start","args":[]}'],
    "request without command": [b'{"t":"request","id":"b1:1","args":{}}'],
    "request instance a number": [b'{"t":"request","id":"b1:1","command":"start","args":{},"instance":5}'],
    "hello pid a string": [b'{"t":"hello","instance":"a","pid":"1","version":"v","project":{},'
                           b'"last_restart":{}}'],
    "hello without project": [b'{"t":"hello","instance":"a","pid":1,"version":"v"}'],
    "NaN (not JSON)": [b'{"t":"push","event":"tick","data":NaN}'],
    "Infinity (not JSON)": [b'{"t":"reply","id":"b1:1","status":"success","message":"m","data":Infinity}'],
    "an attachment no placeholder names": [b'{"t":"push","event":"x","data":1}', b"\x00"],
    "a placeholder past the attachments": [
        b'{"t":"push","event":"x","data":{"_placeholder":true,"num":1}}', b"\x00"],
    "a placeholder num not a number": [
        b'{"t":"push","event":"x","data":{"_placeholder":true,"num":"0"}}', b"\x00"],
    "an attachment named twice": [
        b'{"t":"push","event":"x","data":[{"_placeholder":true,"num":0},'
        b'{"_placeholder":true,"num":0}]}', b"\x00"],
    "a request blob not binary": [b'{"t":"request","id":"b1:1","command":"update","args":{},'
                                  b'"blob":"UEs="}'],
}


@pytest.mark.parametrize("frames", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_frames_raise_message_error(frames):
    with pytest.raises(MessageError):
        decode(frames)


def test_dumps_is_compact_and_strict():
    assert messages.dumps({"a": [1, 2], "b": None}) == b'{"a":[1,2],"b":null}'
    with pytest.raises(ValueError):
        messages.dumps(math.nan)
