"""Named, isolated callbacks: how one gateway part tells another that something happened.

The part that fires owns a ``Callbacks`` for each event and says where it fires it
(``runs_in``); the gateway's assembly (server.py) registers each callback with a name:

    link.on_push.add("handlers.relay_push", handlers.relay_push)

``fire`` calls every callback in registration order. A callback that raises is logged with
its name and the event's (logger.exception) and contained: the next callback still runs, and
the firing part (often eventlet's hub itself) carries on (as jupyter_client's
``_fire_callbacks`` does).

Where a callback runs is its contract:
- HUB: in eventlet's hub greenlet (e.g. from a HubReader). It must never switch: no
  eventlet.sleep, Event.wait, green socket I/O or lock waits. In the hub they raise "Cannot
  switch to MAINLOOP from MAINLOOP".
- EITHER: sometimes in the hub, sometimes in a greenlet: the same rule as HUB.
- GREENLET: in a greenlet of its own, never the hub: it may block.

With ``ROBOTCTL_CHECK_CALLBACKS=1`` in the environment (the tests set it) each call also
checks its contract: a HUB callback must run in the hub and a GREENLET one outside it, and
a HUB or EITHER callback that switches greenlets fails, named, even where the switch
would have worked. Without it ``fire`` costs one loop and one try per callback.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Optional, Tuple

import eventlet
import eventlet.hubs
import greenlet

log = logging.getLogger(__name__)

HUB, EITHER, GREENLET = "hub", "hub or a greenlet", "its own greenlet"
CHECK_ENV = "ROBOTCTL_CHECK_CALLBACKS"


class CallbackContractError(AssertionError):
    """A callback ran where its contract says it must not, or switched where it must not."""


class Callbacks:
    """The callbacks of one event, fired where ``runs_in`` says (HUB, EITHER or GREENLET)."""

    def __init__(self, event: str, runs_in: str, check: Optional[bool] = None) -> None:
        if runs_in not in (HUB, EITHER, GREENLET):
            raise ValueError("runs_in must be HUB, EITHER or GREENLET, not %r" % (runs_in,))
        self.event = event
        self.runs_in = runs_in
        self._entries: Tuple[Tuple[str, Callable[..., Any]], ...] = ()
        checking = os.environ.get(CHECK_ENV) == "1" if check is None else check
        if checking:
            self.fire = self._fire_checked     # type: ignore[method-assign]

    def add(self, name: str, callback: Callable[..., Any]) -> None:
        """Register ``callback`` under ``name`` (used in every log line about it)."""
        self._entries += ((name, callback),)

    def names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self._entries)

    def fire(self, *args: Any) -> None:
        """Call each callback with ``args``; a failure is logged and contained."""
        for name, callback in self._entries:
            try:
                callback(*args)
            except Exception:
                log.exception("callback %s for %s failed", name, self.event)

    def _fire_checked(self, *args: Any) -> None:
        for name, callback in self._entries:
            try:
                self._check_place(name)
                if self.runs_in == GREENLET:
                    callback(*args)
                else:
                    _call_without_switching(name, callback, args)
            except Exception:
                log.exception("callback %s for %s failed", name, self.event)

    def _check_place(self, name: str) -> None:
        in_hub = eventlet.hubs.get_hub().greenlet is eventlet.getcurrent()
        if self.runs_in == HUB and not in_hub:
            raise CallbackContractError("callback %s for %s must run in the hub; it ran in a "
                                        "greenlet" % (name, self.event))
        if self.runs_in == GREENLET and in_hub:
            raise CallbackContractError("callback %s for %s must run in a greenlet; it ran "
                                        "in the hub" % (name, self.event))


def _call_without_switching(name: str, callback: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    """Call ``callback``; raise CallbackContractError if it switched greenlets meanwhile."""
    current = greenlet.getcurrent()
    switches = []

    def trace(event: str, origin_target: Tuple[Any, Any]) -> None:
        if event in ("switch", "throw") and origin_target[0] is current:
            switches.append(origin_target[1])
        if previous is not None:
            previous(event, origin_target)

    previous = greenlet.settrace(trace)
    try:
        callback(*args)
    finally:
        greenlet.settrace(previous)
    if switches:
        raise CallbackContractError("callback %s switched greenlets (eventlet.sleep, a wait or "
                                    "green I/O) where it must not: it may run in the hub" % name)
