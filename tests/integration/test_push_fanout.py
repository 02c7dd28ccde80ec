"""One push, many clients: the gateway encodes each event once and hands the same packets to
every client (gateway/push_packets); each client must still decode exactly what the project
pushed, binary or not, with the python-socketio client."""
from __future__ import annotations

import socketio

from tests.appliance import wait_for
from tests.fixtures.projects.binarybot.main import pattern
from tests.integration.conftest import call, ok, record, upload

FRAME = 100 * 1000
EVENTS = ("frame", "plain", "nothing")


def three_clients(connect):
    controller = connect(events=EVENTS)
    observers = [connect(events=EVENTS, auth={"role": "observer"}) for _ in range(2)]
    return controller, [controller] + observers


def test_a_binary_push_arrives_identical_at_a_controller_and_two_observers(connect):
    controller, clients = three_clients(connect)
    ok(upload(controller, "binarybot"))
    assert ok(call(controller, "camera", "push_nested", [FRAME, 3])) == 3
    for client in clients:
        wait_for(lambda: len(client.received["frame"]) == 3, 30, "3 frames at each client")
    expected = [{"seq": seq, "jpeg": pattern(FRAME, seq), "tiles": [b"a", b"bc", b"def"]}
                for seq in range(3)]
    for client in clients:
        frames = sorted(client.received["frame"], key=lambda frame: frame["seq"])
        assert frames == expected
        assert all(type(frame["jpeg"]) is bytes for frame in frames)


def test_a_plain_push_and_one_without_data_arrive_identical_at_each_client(connect):
    controller, clients = three_clients(connect)
    ok(upload(controller, "binarybot"))
    assert ok(call(controller, "camera", "push_plain", [5])) == 5
    for client in clients:
        wait_for(lambda: len(client.received["plain"]) == 5 and client.received["nothing"],
                 30, "5 plain events and one without data at each client")
    expected = [{"seq": seq, "text": "ça marche ✓ \"q\"\n", "values": [1.5, None, True]}
                for seq in range(5)]
    for client in clients:
        assert sorted(client.received["plain"], key=lambda event: event["seq"]) == expected
        # push_message("nothing") is an event without arguments, as emit("nothing") sends it
        assert client.received["nothing"] == [()]


def test_frames_taken_from_zeromq_without_a_copy_reach_a_long_polling_client(appliance, connect):
    """Attachments of 64 KiB and more stay views of ZeroMQ's buffer up to the client's
    socket; long-polling sends them base64'd, which must decode to the same bytes."""
    controller = connect(events=("raw",))
    polling = socketio.Client(reconnection=False)
    received = record(polling, "raw")
    polling.connect(appliance.url, transports=["polling"], auth={"role": "observer"})
    try:
        ok(upload(controller, "binarybot"))
        assert ok(call(controller, "camera", "push_bytes", [FRAME, 3])) == 3
        for frames in (controller.received["raw"], received):
            wait_for(lambda: len(frames) == 3, 30, "3 raw frames at each client")
            assert sorted(frames) == sorted(pattern(FRAME, seq) for seq in range(3))
    finally:
        polling.disconnect()
