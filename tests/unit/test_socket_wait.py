"""executor.socket_wait: what the executor's loop waits on, with real ZeroMQ sockets and a
real pipe. A socket's FD only says "news"; these tests hold it to the cases where news is
consumed by asking and must not be lost."""
from __future__ import annotations

import os
import threading

import pytest
import zmq

from executor.socket_wait import SocketWait, readable


@pytest.fixture
def sockets(tmp_path):
    """(busy, quiet, pipe read end, senders for busy and quiet, pipe write end)."""
    context = zmq.Context()
    made = []

    def pair(name):
        address = "ipc://%s/%s" % (tmp_path, name)
        receiver, sender = context.socket(zmq.PULL), context.socket(zmq.PUSH)
        receiver.bind(address)
        sender.connect(address)
        made.extend([receiver, sender])
        return receiver, sender
    busy, to_busy = pair("busy")
    quiet, to_quiet = pair("quiet")
    read_end, write_end = os.pipe()
    yield busy, quiet, read_end, to_busy, to_quiet, write_end
    for sock in made:
        sock.close(linger=0)
    context.term()
    os.close(read_end)
    os.close(write_end)


def test_nothing_ready_waits_out_the_timeout(sockets):
    busy, quiet, read_end, *_ = sockets
    assert SocketWait(busy, [quiet], [read_end]).wait(0.05) == set()


def test_each_kind_is_reported_when_ready(sockets):
    busy, quiet, read_end, to_busy, to_quiet, write_end = sockets
    wait = SocketWait(busy, [quiet], [read_end])
    to_busy.send(b"command")
    assert wait.wait(10) == {busy}
    assert busy.recv() == b"command" and not readable(busy)
    to_quiet.send(b"event")
    assert wait.wait(10) == {quiet}
    assert quiet.recv() == b"event"
    os.write(write_end, b"\0")
    assert wait.wait(10) == {read_end}


def test_a_wait_wakes_when_a_message_arrives_during_it(sockets):
    busy, quiet, read_end, to_busy, *_ = sockets
    wait = SocketWait(busy, [quiet], [read_end])
    assert wait.wait(0) == set()          # the busy socket's news consumed: the FD must fire
    timer = threading.Timer(0.1, lambda: to_busy.send(b"late"))
    timer.start()
    try:
        assert wait.wait(30) == {busy}
    finally:
        timer.join()


def test_a_quiet_socket_reported_but_not_read_is_reported_again(sockets):
    """The loop may hand over before it reads what a wait reported (leadership): asking
    consumed the quiet socket's news, so its FD will not fire again for that message."""
    busy, quiet, read_end, to_busy, to_quiet, _ = sockets
    wait = SocketWait(busy, [quiet], [read_end])
    to_quiet.send(b"peer connected")
    to_busy.send(b"command")
    assert quiet.poll(10000, zmq.POLLIN) and busy.poll(10000, zmq.POLLIN)
    assert wait.wait(10) == {busy, quiet}
    assert wait.wait(0.05) == {busy, quiet}   # neither was read
    assert busy.recv() == b"command"
    assert wait.wait(0.05) == {quiet}
    assert quiet.recv() == b"peer connected"
    assert wait.wait(0.05) == set()


def test_news_that_came_before_the_wait_existed_is_seen(sockets):
    busy, quiet, read_end, to_busy, to_quiet, _ = sockets
    to_quiet.send(b"early")
    to_busy.send(b"early")
    # Both arrived, and asking (as zmq_poll does) consumed both FDs' news.
    assert quiet.poll(10000, zmq.POLLIN) and busy.poll(10000, zmq.POLLIN)
    assert SocketWait(busy, [quiet], [read_end]).wait(0.05) == {busy, quiet}
