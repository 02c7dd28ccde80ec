"""Live streams: latest-value events, byte budgets, control ahead of data, stalled clients,
per-client rates. Real clients: python-socketio, and a raw websocket client that stops
reading (tests/rawsocketio.py). Frames are ~10-100 KB JSON strings (streambot fixture).
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import pytest

from shared import protocol
from tests.appliance import REPO, wait_for
from tests.integration.conftest import call, ok, record, upload
from tests.rawsocketio import RawSocketIO, vm_rss

BUDGET = 512 * 1024


def start_stream(client, **args):
    assert call(client, "camera", "start", args)["data"] == "streaming"


def clients_status(client):
    return ok(client.call("status", {}, timeout=30))["clients"]


def stats_of(client, raw):
    """The gateway's figures for the raw client (found by its local address)."""
    address = "%s:%d" % raw.sock.getsockname()[:2]
    found = [c for c in clients_status(client) if c["address"] == address]
    assert len(found) == 1, (address, clients_status(client))
    return found[0]


def read_raw(raw, until, timeout=30.0):
    """The raw client's (event, data) until ``until(event, data)`` holds."""
    seen = []
    for event, data in raw.events(timeout=timeout):
        seen.append((event, data))
        if until(event, data):
            return seen
    raise AssertionError("the raw client stopped before the end: %r" % [e for e, _ in seen][-20:])


def seqs(seen, name):
    return [data["seq"] for event, data in seen if event == name]


def dropped(seen):
    counts = {}
    for event, data in seen:
        if event == protocol.PUSH_DROPPED:
            assert data["count"] == sum(data["by_event"].values()), data
            for name, count in data["by_event"].items():
                counts[name] = counts.get(name, 0) + count
    return counts


@pytest.fixture
def streaming(connect):
    """A controller with the streambot project started."""
    client = connect()
    ok(upload(client, "streambot"))
    ok(client.call("start", {}))
    return client


def test_a_slow_reader_gets_the_newest_value_of_a_latest_event_not_a_backlog(streaming, appliance):
    frames = record(streaming, "camera")
    raw = RawSocketIO("127.0.0.1", appliance.port, auth={"role": "observer"})
    try:
        # 300 frames of 10 KB while the raw client reads nothing; the controller takes all.
        assert call(streaming, "camera", "burst", [300, "camera", 10000, True])["data"] == 300
        wait_for(lambda: frames and frames[-1]["seq"] == 299, 30, "the controller's last frame")
        held = stats_of(streaming, raw)
        # one waiting value, plus at most about one frame handed to Engine.IO
        assert held["held_bytes"] <= 100 * 1024, held
        seen = read_raw(raw, lambda event, data: event == "camera" and data["seq"] == 299)
    finally:
        raw.close()
    got = seqs(seen, "camera")
    print("slow reader got %d of 300 frames: %s; gateway held %r" % (len(got), got, held))
    assert got == sorted(got) and got[-1] == 299
    assert len(got) < 60, "a backlog was delivered: %r" % got
    assert dropped(seen) == {}, "replaced values are not drops"


@pytest.mark.config(gateway={"client_buffer_bytes": BUDGET, "stall_timeout": 300})
def test_a_stuck_client_costs_at_most_its_budget_and_its_drops_are_reported(streaming, appliance):
    ticks = record(streaming, "frame")
    raw = RawSocketIO("127.0.0.1", appliance.port, auth={"role": "observer"})
    gateway = appliance.gateway_pid()
    before = vm_rss(gateway)
    try:
        # 200 ordered events of 20 KB (4 MB) for a client that reads nothing
        assert call(streaming, "camera", "burst", [200, "frame", 20000, False])["data"] == 200
        # (the controller's own budget may drop some too: the last one is always kept)
        wait_for(lambda: ticks and ticks[-1]["seq"] == 199, 30, "the controller's last event")
        held = stats_of(streaming, raw)
        grown = vm_rss(gateway) - before
        print("stuck client: gateway holds %r; RSS +%.1f MiB" % (held, grown / 2 ** 20))
        assert held["held_bytes"] <= BUDGET, held
        # the kernel holds little for it too (SO_SNDBUF): measured with SIOCOUTQ
        assert held["kernel_bytes"] is not None and held["kernel_bytes"] <= 384 * 1024, held
        assert grown < 32 * 2 ** 20
        seen = read_raw(raw, lambda event, data: event == "frame" and data["seq"] == 199)
        # (a drop report may follow the events it is about)
        while sum(dropped(seen).values()) + len(seqs(seen, "frame")) < 200:
            seen += read_raw(raw, lambda event, data: event == protocol.PUSH_DROPPED, 10)
    finally:
        raw.close()
    got = seqs(seen, "frame")
    drops = dropped(seen)
    assert got == sorted(got) and got[-1] == 199, got      # in order, the newest kept
    assert drops and set(drops) == {"frame"}, drops
    assert len(got) + drops["frame"] == 200, (len(got), drops)


@pytest.mark.config(gateway={"stall_timeout": 3.0})
def test_a_stuck_controller_whose_pings_arrive_is_disconnected_and_a_reader_beside_it_is_not(
        connect, appliance):
    setup = connect()
    ok(upload(setup, "streambot"))
    setup.disconnect()
    observer = connect(auth={"role": "observer"})
    ages, gone, arrived = [], [], [0.0]     # each frame's age on arrival at the observer

    def frame(data):
        arrived[0] = time.time()
        ages.append(arrived[0] - data["t"])
    observer.on("camera", frame)
    observer.on("disconnect", lambda *reason: gone.append(time.time()))
    stuck = RawSocketIO("127.0.0.1", appliance.port)          # the controller
    stuck_address = "%s:%d" % stuck.sock.getsockname()[:2]
    stuck.send_packet("421" + json.dumps(["process", {"params": {
        "object": "camera", "method": "start",
        "args": {"fps": 30, "frame_bytes": 100000, "latest": True}}}]))
    # A client that reads nothing but keeps answering pings blindly: Engine.IO thinks it alive.
    stop_pongs = threading.Event()

    def blind_pongs():
        while not stop_pongs.wait(0.5):
            try:
                stuck.send_packet("3")
            except OSError:
                return
    threading.Thread(target=blind_pongs, daemon=True).start()
    stuck_at = time.monotonic()
    try:
        appliance.wait_log(r"client %s \(sid \S+\) took nothing of the \d+ bytes waiting for "
                           r"it in 3 s \(gateway.stall_timeout\); disconnecting it"
                           % re.escape(stuck_address), timeout=40)
        stalled_after = time.monotonic() - stuck_at
        appliance.wait_log(r"controller %s disconnected; running the project's stop hooks"
                           % re.escape(stuck_address), timeout=30)
    finally:
        stop_pongs.set()
        stuck.close()
    print("the reader beside the stuck controller: %d frames, age p50 %.0f ms, max %.0f ms"
          % (len(ages), 1e3 * statistics.median(ages), 1e3 * max(ages)))
    assert stalled_after >= 3.0
    assert "ping timeout" not in appliance.log.lower()
    assert not gone and observer.connected
    # the reader kept its stream: ~30 fps on loopback all along, the frames fresh
    assert len(ages) >= 30 * 3 / 2, len(ages)
    assert statistics.median(ages) < 0.5
    print(["%.0f" % (1e3 * age) for age in ages])
    # the stop hooks ran: the camera stopped
    wait_for(lambda: time.time() - arrived[0] > 1.0, 30, "the camera to stop")


def test_subscribe_thins_one_client_to_its_rate_with_the_newest_value(connect, appliance):
    controller = connect(events=("camera",))
    ok(upload(controller, "streambot"))
    phone = connect(events=("camera",), auth={"role": "observer"})
    reply = ok(phone.call("subscribe", {"rates": {"camera": 5}}))
    assert reply == {"rates": {"camera": 5.0}}
    start_stream(controller, fps=30, frame_bytes=20000, latest=False)
    time.sleep(3.0)
    ok(call(controller, "camera", "stop", {}))
    last = wait_for(lambda: controller.received["camera"], 10, "frames")[-1]["seq"]
    # the last frame pushed reaches the thinned client too, at its turn
    wait_for(lambda: phone.received["camera"] and phone.received["camera"][-1]["seq"] == last,
             10, "the newest frame at the phone")
    full, thinned = controller.received["camera"], phone.received["camera"]
    gaps = [b["t"] - a["t"] for a, b in zip(thinned, thinned[1:])]
    print("full rate %d frames, at 5/s %d frames; gaps %r" % (len(full), len(thinned), gaps))
    assert len(full) >= 45 and 8 <= len(thinned) <= 25, (len(full), len(thinned))
    assert statistics.median(gaps) >= 0.15, gaps      # ~0.2 s apart
    assert [f["seq"] for f in thinned] == sorted(f["seq"] for f in thinned)
    assert not record(phone, protocol.PUSH_DROPPED)
    # null returns the event to full rate; the ack holds the effective rates
    assert ok(phone.call("subscribe", {"rates": {"camera": None}})) == {"rates": {}}
    before = len(phone.received["camera"])
    ok(call(controller, "camera", "burst", [20, "camera", 1000, False]))
    wait_for(lambda: len(phone.received["camera"]) >= before + 20, 10, "20 frames at full rate")


@pytest.mark.parametrize("payload, message", [
    ({}, "rates must be an object"),
    ({"rates": {"camera": -1}}, "rates.camera must be a number of events per second"),
    ({"rates": {"camera": "fast"}}, "rates.camera must be a number of events per second"),
    ({"rates": {"robotctl:log": 1}}, "'robotctl:log' is not an event a project pushes"),
])
def test_subscribe_refuses_bad_rates(client, payload, message):
    reply = client.call("subscribe", payload)
    assert reply["status"] == "error" and message in reply["message"], reply
    assert reply["data"] == {"code": "invalid_payload"}, reply
    assert ok(client.call("subscribe", {"rates": {"camera": 0}})) == {"rates": {}}


def test_control_stays_ahead_of_a_stream_faster_than_the_link(shaped_link, tmp_path):
    """30 fps of 100 KB frames (3 MB/s) plus robot_state at 100 Hz into a 2 MiB/s link, while
    the controller calls process at 20 Hz. With a 1 + 2 s ping deadline, a PING that waited
    behind the backlog would disconnect it."""
    from tests.appliance import Appliance
    ns, address, _ = shaped_link
    app = Appliance(tmp_path, gateway={"host": address, "ping_interval": 1.0,
                                       "ping_timeout": 2.0})
    app.url = "http://%s:%d" % (address, app.port)
    app.start()
    try:
        result = run_stream_client(ns, app.url, "--seconds", "15", "--call-hz", "20", "--stop",
                                   "--start", json.dumps({"fps": 30, "frame_bytes": 100000,
                                                          "latest": True, "state_hz": 100}),
                                   project="streambot")
    finally:
        app.stop()
    ages, rtts = sorted(result["ages"]), sorted(result["rtts"])
    print("shaped link: %d frames, age p50 %.0f ms max %.0f ms; %d calls, rtt p50 %.0f ms "
          "max %.0f ms; %d states; clients %r" % (
              len(ages), 1e3 * statistics.median(ages), 1e3 * ages[-1], len(rtts),
              1e3 * statistics.median(rtts), 1e3 * rtts[-1], result["states"],
              result.get("clients")))
    assert result["disconnects"] == 0 and result["failed_calls"] == [], result["failed_calls"]
    assert len(rtts) >= 15 * 20 * 0.5         # sequential calls, each ~a frame long
    assert rtts[-1] < 1.0 and ages[-1] < 1.5          # (the bench measures the real figures)
    assert len(ages) >= 15 * 10 and result["states"] >= 15 * 10
    assert result["seqs"] == sorted(result["seqs"])


def run_stream_client(ns, url, *args, project):
    from tests.appliance import FIXTURES, b64, zip_dir
    import socketio
    setup = socketio.Client(reconnection=False)
    setup.connect(url, transports=["websocket"])
    ok(setup.call("update", {"data": b64(zip_dir(FIXTURES / project))}, timeout=60))
    setup.disconnect()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.stream_client",
                           url] + list(args), cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
