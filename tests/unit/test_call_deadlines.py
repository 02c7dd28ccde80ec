"""Unit tests for executor.calls: what max_execution_time keeps, and exactly one reply.

The replies go over a real ZeroMQ PUSH/PULL pair, as in the executor."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import zmq

from executor.calls import CallTracker, ok
from executor.event_channel import EventChannel
from executor.worker_pool import WorkerPool
from shared import messages
from tests.appliance import wait_for


@pytest.fixture
def wire():
    context = zmq.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    pull.bind("inproc://replies")
    push.connect("inproc://replies")
    tracker = CallTracker(WorkerPool(), EventChannel(push, 1 << 24), lambda: Path("."), max_in_flight=64)
    yield tracker, pull
    push.close(0)
    pull.close(0)
    context.term()


def replies(pull: zmq.Socket, count: int, timeout_ms: int = 10000) -> list:
    got: list = []
    while len(got) < count and pull.poll(timeout_ms):
        got.append(messages.decode(pull.recv_multipart()))
    return got


def test_answered_calls_leave_no_deadline_behind(wire):
    tracker, pull = wire
    release = threading.Event()
    tracker.run("slow", "bench.slow", lambda: (release.wait(30), ok("slow"))[1], timeout=300.0,
                bounded=True)
    for n in range(200):       # answered while the slow call, started first, still runs
        tracker.run("r:%d" % n, "bench.echo", lambda: ok("done", 1), timeout=300.0, bounded=True)
    assert sorted(reply.id for reply in replies(pull, 200)) == sorted("r:%d" % n for n in range(200))
    assert tracker.timed_calls == 1      # the slow one: not 200 answered calls behind it
    assert 299 < tracker.expire() <= 300
    release.set()
    assert [reply.id for reply in replies(pull, 1)] == ["slow"]
    wait_for(lambda: tracker.in_flight == 0, 10, "the calls to end")
    assert tracker.timed_calls == 0 and tracker.expire() is None


def test_a_late_call_gets_one_reply_at_its_limit_and_others_keep_theirs(wire):
    tracker, pull = wire
    release = threading.Event()
    tracker.run("slow", "bench.slow", lambda: (release.wait(30), ok("late"))[1], timeout=0.2,
                bounded=True)
    tracker.run("quick", "bench.quick", lambda: ok("quick"), timeout=300.0, bounded=True)
    assert [reply.id for reply in replies(pull, 1)] == ["quick"]
    deadline = time.monotonic() + 10
    wait = tracker.expire()
    while wait is not None and time.monotonic() < deadline:    # the executor's main loop
        time.sleep(min(wait, 0.05))
        wait = tracker.expire()
    late = replies(pull, 1)
    assert [(reply.id, reply.status) for reply in late] == [("slow", "error")]
    assert "max_execution_time" in late[0].message and late[0].data == {"code": "timeout"}
    assert tracker.expire() is None      # the quick one is answered, the slow one too
    release.set()
    wait_for(lambda: tracker.in_flight == 0, 10, "the slow call to end")
    assert replies(pull, 1, timeout_ms=300) == []     # its result is dropped: one reply only
