"""The byte bound of the callback channel: what the executor counts as sent and consumed,
which pushes it drops, and that replies are never held back by it (a real ZeroMQ pair)."""
from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import pytest
import zmq

from executor.event_channel import EventChannel
from executor.send_credit import SendCredit
from shared import messages, protocol

BOUND = 4000
BLOB = b"x" * 900        # a push of ~950 bytes: four fit in the bound, a fifth does not


@pytest.fixture
def wire() -> Iterator[Tuple[EventChannel, zmq.Socket]]:
    context = zmq.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    pull.bind("inproc://events")
    push.connect("inproc://events")
    yield EventChannel(push, BOUND), pull
    push.close(0)
    pull.close(0)
    context.term()


def received(pull: zmq.Socket) -> List[Any]:
    got = []
    while pull.poll(0):
        got.append(messages.decode(pull.recv_multipart()))
    return got


def test_the_credit_counts_sent_minus_consumed_never_below_zero() -> None:
    credit = SendCredit(100)
    assert credit.room_for(100) and not credit.room_for(101)
    credit.sent(60)
    assert credit.room_for(40) and not credit.room_for(41)
    credit.consumed(25)
    assert credit.outstanding == 35
    credit.consumed(1000)     # read by a new gateway, queued before the reset
    assert credit.outstanding == 0
    credit.sent(70)
    credit.reset()
    assert credit.outstanding == 0


def test_pushes_past_the_bound_are_dropped_and_reported_once_the_gateway_has_read(wire) -> None:
    channel, pull = wire
    size = messages.frames_size(messages.Push("frame", BLOB).to_frames())
    fit = BOUND // size
    for _ in range(fit + 3):
        channel.push("frame", BLOB)
    assert [m.event for m in received(pull)] == ["frame"] * fit
    # The gateway reports what it read: room again, and the drops are told first.
    channel.consumed(fit * size)
    channel.push("frame", BLOB)
    pushes = received(pull)
    assert [(m.event, m.data) for m in pushes[:1]] == [
        (protocol.PUSH_DROPPED, {"count": 3, "by_event": {"frame": 3}})]
    assert [m.event for m in pushes[1:]] == ["frame"]


def test_a_reply_is_never_held_back_by_the_bound_but_counts(wire) -> None:
    channel, pull = wire
    big = b"r" * (2 * BOUND)
    channel.reply("1:1", protocol.SUCCESS, "ok", big)
    assert [m.data for m in received(pull)] == [big]
    channel.push("small", 1)      # the reply used all the credit
    assert received(pull) == []
    channel.gateway_connected()   # a new gateway counts from zero: so does the executor
    channel.push("small", 2)
    assert [m.event for m in received(pull)] == [protocol.PUSH_DROPPED, "small"]


def test_consumed_is_validated_at_the_edge() -> None:
    assert messages.decode(messages.Consumed(4096).to_frames()) == messages.Consumed(4096)
    for header in (b'{"t":"consumed","bytes":-1}', b'{"t":"consumed","bytes":"1"}',
                   b'{"t":"consumed","bytes":true}', b'{"t":"consumed"}'):
        with pytest.raises(messages.MessageError):
            messages.decode([header])


def test_drops_are_reported_as_soon_as_the_gateway_reports_reading(wire) -> None:
    channel, pull = wire
    for _ in range(BOUND // 900 + 2):
        channel.push("frame", BLOB)
    sent = received(pull)
    channel.consumed(BOUND // 4)     # no push follows: the report must not wait for one
    assert [(m.event, m.data["count"]) for m in received(pull)] == [
        (protocol.PUSH_DROPPED, BOUND // 900 + 2 - len(sent))]
