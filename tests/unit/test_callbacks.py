"""gateway.callbacks: a failing callback is logged with its name and contained, the next one
still runs; with the contract checks on, a callback that runs in the wrong place or switches
greenlets where it must not fails loudly, named. Runs on a real eventlet hub."""
from __future__ import annotations

import logging
from typing import Any, Callable, List

import eventlet
import eventlet.hubs
import pytest
from eventlet.event import Event

from gateway.callbacks import EITHER, GREENLET, HUB, CallbackContractError, Callbacks


def in_hub(fire: Callable[[], None]) -> None:
    """Run ``fire`` in the hub greenlet itself (as a HubReader does), and wait for it."""
    done = Event()

    def from_the_hub() -> None:
        fire()
        done.send(True)

    eventlet.hubs.get_hub().schedule_call_global(0, from_the_hub)
    assert done.wait(30)


def failures(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.callbacks"]


@pytest.mark.parametrize("check", [False, True])
def test_a_failing_callback_is_logged_by_name_and_the_next_one_runs(
        caplog: pytest.LogCaptureFixture, check: bool) -> None:
    seen: List[Any] = []
    callbacks = Callbacks("push", HUB, check=check)

    def broken(event: str, data: Any) -> None:
        raise KeyError("boom")

    callbacks.add("broken.callback", broken)
    callbacks.add("recorder", lambda event, data: seen.append((event, data)))
    in_hub(lambda: callbacks.fire("sensor", 1))
    in_hub(lambda: callbacks.fire("sensor", 2))
    assert seen == [("sensor", 1), ("sensor", 2)]
    records = failures(caplog)
    assert len(records) == 2
    assert records[0].getMessage() == "callback broken.callback for push failed"
    assert records[0].exc_info is not None and records[0].exc_info[0] is KeyError
    assert callbacks.names() == ("broken.callback", "recorder")


def test_a_hub_callback_that_waits_fails_in_the_hub_named_even_unchecked(
        caplog: pytest.LogCaptureFixture) -> None:
    """What the contract prevents: eventlet refuses a switch from the hub itself."""
    after: List[str] = []
    callbacks = Callbacks("push", HUB, check=False)
    callbacks.add("waiter", lambda: Event().wait())
    callbacks.add("after", lambda: after.append("ran"))
    in_hub(callbacks.fire)
    assert after == ["ran"]
    [record] = failures(caplog)
    assert "callback waiter for push failed" == record.getMessage()
    assert record.exc_info is not None
    assert "Cannot switch to MAINLOOP from MAINLOOP" in str(record.exc_info[1])


def test_checked_a_hub_callback_fired_from_a_greenlet_fails_named(
        caplog: pytest.LogCaptureFixture) -> None:
    ran: List[str] = []
    callbacks = Callbacks("push", HUB, check=True)
    callbacks.add("hub.only", lambda: ran.append("ran"))
    eventlet.spawn(callbacks.fire).wait()
    assert ran == []
    [record] = failures(caplog)
    assert record.exc_info is not None and record.exc_info[0] is CallbackContractError
    assert "callback hub.only for push must run in the hub" in str(record.exc_info[1])
    in_hub(callbacks.fire)
    assert ran == ["ran"]


def test_checked_a_greenlet_callback_fired_from_the_hub_fails_named(
        caplog: pytest.LogCaptureFixture) -> None:
    callbacks = Callbacks("peer request", GREENLET, check=True)
    callbacks.add("may.block", lambda: eventlet.sleep(0))
    in_hub(callbacks.fire)
    [record] = failures(caplog)
    assert record.exc_info is not None
    assert "callback may.block for peer request must run in a greenlet" in str(record.exc_info[1])
    caplog.clear()
    eventlet.spawn(callbacks.fire).wait()     # where it belongs, it may switch
    assert failures(caplog) == []


def test_checked_a_switch_fails_even_where_it_would_have_worked(
        caplog: pytest.LogCaptureFixture) -> None:
    """An EITHER callback that waits, fired from a greenlet: unchecked it works (and would
    break once fired from the hub); checked it fails, named."""
    for check, expected in ((False, 0), (True, 1)):
        caplog.clear()
        callbacks = Callbacks("executor change", EITHER, check=check)
        callbacks.add("waiter", lambda: eventlet.sleep(0))
        eventlet.spawn(callbacks.fire).wait()
        records = failures(caplog)
        assert len(records) == expected
    assert records[0].exc_info is not None
    assert "callback waiter switched greenlets" in str(records[0].exc_info[1])


def test_the_check_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ROBOTCTL_CHECK_CALLBACKS", "1")
    callbacks = Callbacks("push", HUB)
    callbacks.add("hub.only", lambda: None)
    callbacks.fire()      # from the test's own greenlet, not the hub
    assert len(failures(caplog)) == 1
    with pytest.raises(ValueError):
        Callbacks("push", "anywhere")
