"""The executor's callback channel is bounded in bytes (executor.event_buffer_bytes), not by a
count of messages: a project pushing camera frames at a frozen gateway costs the executor at
most the bound, push_message never waits, the rest is reported dropped, and replies go on."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.appliance import wait_for
from tests.integration.conftest import call, ok, upload

DROPPED = "robotctl:push_dropped"
MiB = 1024 * 1024
BOUND = 8 * MiB
FRAME = 1000 * 1000
COUNT = 200           # 200 MB of frames: far more than the bound
# What else the executor's RSS may grow by: the frame being made and sent, the kernel's
# socket buffer, the allocator's slack. Without the byte bound it grew by ~200 MB.
SLACK = 32 * MiB


def rss(pid: int) -> int:
    """The resident set size of ``pid``, bytes."""
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def stopped(pid: int) -> bool:
    """Whether every thread of ``pid`` is stopped (SIGSTOP takes effect asynchronously)."""
    return all((task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
               for task in Path("/proc/%d/task" % pid).iterdir())


# A client budget that holds every frame, so what the client misses was dropped by the
# executor alone; pings patient enough for a frozen gateway.
@pytest.mark.config(gateway={"ping_interval": 20, "ping_timeout": 60, "stall_timeout": 300,
                             "client_buffer_bytes": 256 * MiB},
                    executor={"event_buffer_bytes": BOUND})
def test_a_frozen_gateway_costs_the_executor_at_most_its_event_buffer(appliance, connect,
                                                                       tmp_path):
    client = connect(events=(DROPPED, "frame"), ordered=True, wait_timeout=30)
    ok(upload(client, "callpathbot"))
    ok(client.call("start", {}, timeout=60))
    fifo = str(tmp_path / "go")
    ok(call(client, "bot", "flood_frames_on", {"fifo": fifo, "count": COUNT, "size": FRAME}))
    executor, gateway = appliance.executor_pid(), appliance.gateway_pid()
    before = rss(executor)
    os.kill(gateway, signal.SIGSTOP)
    try:
        wait_for(lambda: stopped(gateway), 30, "the gateway to stop")
        with open(fifo, "w") as trigger:
            trigger.write("go\n")
        appliance.wait_log("flood_frames done", timeout=120)
        appliance.wait_log(r"dropped a push of 'frame': the gateway is not reading events "
                           r"\(it has not read %d bytes" % BOUND)
        grown = rss(executor) - before
    finally:
        os.kill(gateway, signal.SIGCONT)
    assert grown <= BOUND + SLACK, "the executor grew by %.1f MiB (bound %d MiB)" % (
        grown / MiB, BOUND // MiB)
    # A call right after the gateway resumes gets its reply, behind the frames it held.
    result = ok(call(client, "bot", "frames_result", timeout=60))
    assert result["longest_ms"] < 500, result      # no push waited for the gateway

    def reported() -> int:
        return sum(r["by_event"].get("frame", 0) for r in client.received[DROPPED])
    wait_for(lambda: reported() + len(client.received["frame"]) == COUNT, 120,
             "every frame received or reported dropped")
    received = len(client.received["frame"])
    # The executor sent only what fits in the bound (each frame is FRAME bytes plus its
    # header); nothing was in flight when the gateway froze.
    assert 1 <= received <= BOUND // FRAME, (received, client.received[DROPPED])
    assert ok(call(client, "bot", "echo", {"value": "after"})) == "after"
