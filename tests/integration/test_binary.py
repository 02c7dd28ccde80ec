"""Binary payloads end to end with a real python-socketio client: pushes, process returns and
args, and update, all as Socket.IO binary attachments (``bytes`` in python-socketio)."""
from __future__ import annotations

import json
import zlib

from tests.appliance import FIXTURES, wait_for, zip_dir
from tests.fixtures.projects.binarybot.main import pattern
from tests.integration import cli_helpers
from tests.integration.conftest import call, ok, record, upload

FRAME = 100 * 1000


def binarybot(client):
    ok(upload(client, "binarybot"))


def test_a_nested_binary_push_arrives_as_bytes_in_place(client):
    frames = record(client, "frame")
    binarybot(client)
    assert ok(call(client, "camera", "push_nested", [FRAME, 3])) == 3
    wait_for(lambda: len(frames) == 3, 30, "3 frames")
    for seq, frame in enumerate(sorted(frames, key=lambda f: f["seq"])):
        assert frame["seq"] == seq
        assert type(frame["jpeg"]) is bytes and frame["jpeg"] == pattern(FRAME, seq)
        assert frame["tiles"] == [b"a", b"bc", b"def"]
        assert all(type(tile) is bytes for tile in frame["tiles"])


def test_data_that_is_bytes_itself_arrives_as_bytes(client):
    raw = record(client, "raw")
    binarybot(client)
    assert ok(call(client, "camera", "push_bytes", [1024 * 1024])) == 1
    wait_for(lambda: raw, 30, "the raw frame")
    assert type(raw[0]) is bytes and raw[0] == pattern(1024 * 1024)


def test_a_process_return_holding_bytes_is_binary(client):
    binarybot(client)
    snapshot = ok(call(client, "camera", "snapshot", [FRAME]))
    assert snapshot["size"] == FRAME
    assert type(snapshot["png"]) is bytes and snapshot["png"] == pattern(FRAME)
    raw = ok(call(client, "camera", "raw", [300]))
    assert type(raw) is bytes and raw == pattern(300)
    assert ok(call(client, "camera", "raw", [0])) == b""


def test_binary_process_args_reach_the_method_as_bytes(client):
    binarybot(client)
    blob = pattern(FRAME, 5)
    expected = {"type": "bytes", "len": FRAME, "crc": zlib.crc32(blob)}
    positional = ok(call(client, "camera", "inspect", [blob, 1, b""]))
    assert positional["args"] == [expected, "int", {"type": "bytes", "len": 0, "crc": 0}]
    keywords = ok(call(client, "camera", "inspect", {"png": blob, "name": "x"}))
    assert keywords["kwargs"] == {"png": expected, "name": "str"}
    # Nested in the args and back again in the return value: bytes both ways.
    meta = {"blobs": [b"\x00\xff", b"\x89PNG"], "label": "tiles"}
    assert ok(call(client, "camera", "nested", [meta])) == {"kind": "bytes", "echo": meta}


def test_update_accepts_the_zip_as_binary(client):
    zip_bytes = zip_dir(FIXTURES / "binarybot")
    info = ok(client.call("update", {"data": zip_bytes}, timeout=60))
    assert info["name"] and len(info["sha256"]) == 64
    ok(client.call("start", {}))
    assert ok(call(client, "camera", "raw", [3])) == b"\x00\x01\x02"


def test_a_broken_binary_update_is_refused_and_changes_nothing(client):
    binarybot(client)
    reply = client.call("update", {"data": b"PK\x03\x04 not really a zip"}, timeout=60)
    assert reply["status"] == "error" and "zip" in reply["message"].lower(), reply
    assert reply["data"] == {"code": "update_rejected"}, reply
    assert ok(call(client, "camera", "raw", [2])) == b"\x00\x01"


def test_the_cli_shows_binary_values_by_their_size(appliance, client):
    binarybot(client)
    client.disconnect()
    result = cli_helpers.run_until_free(appliance.url, "--json", "call", "camera", "snapshot",
                                        "size=2048")
    assert json.loads(cli_helpers.ok(result)) == {"png": "<2048 bytes>", "size": 2048}


def test_the_default_projects_camera_streams_png_frames(connect):
    client = connect(events=("camera",))
    frames = client.received["camera"]
    assert ok(call(client, "sport_client", "StartCamera", {"fps": 20})) == {
        "camera": "on", "fps": 20.0}
    wait_for(lambda: len(frames) >= 3, 30, "3 camera frames")
    for frame in frames:
        assert type(frame["png"]) is bytes and frame["png"].startswith(b"\x89PNG\r\n\x1a\n")
        assert (frame["width"], frame["height"]) == (160, 120)
    snapshot = ok(call(client, "sport_client", "Snapshot"))
    assert type(snapshot) is bytes and snapshot.startswith(b"\x89PNG\r\n\x1a\n")
    ok(call(client, "sport_client", "StopCamera"))
