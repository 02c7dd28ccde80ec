"""The byte bound of the callback channel: what the executor has sent and the gateway has
not yet read.

ZeroMQ bounds its queues by a count of messages only, and a count is no bound on memory: the
same 100,000 messages are 5 MB of ticks or 10 GB of camera frames. So the executor counts the
bytes of every message it sends on the callback socket (pushes, replies, drop reports), and
the gateway tells it, in ``Consumed {bytes}`` on the command channel, how many more it has
read off the socket, every quarter of the bound (never per message). What is outstanding,
sent minus consumed, is what ZeroMQ holds on either side plus the kernel's socket buffer.

A push goes out only while the outstanding bytes plus its own stay within the bound; a reply
is never held back by it (it still counts). The gateway reports late by less than a quarter
of the bound, so a push always has at least three quarters of the bound when the gateway keeps
up. On a gateway (re)connect both counts start again: what was queued for the old connection
and then read by the new gateway is consumed beyond what was sent since, which is why the
outstanding count never goes below zero.

Not thread-safe: EventChannel uses it under its lock.
"""
from __future__ import annotations


class SendCredit:
    def __init__(self, bound: int):
        self.bound = bound
        self.outstanding = 0     # bytes sent and not yet reported consumed

    def room_for(self, size: int) -> bool:
        """Whether a push of ``size`` bytes stays within the bound."""
        return self.outstanding + size <= self.bound

    def sent(self, size: int) -> None:
        self.outstanding += size

    def consumed(self, size: int) -> None:
        """The gateway read ``size`` more bytes (a Consumed message)."""
        self.outstanding = max(0, self.outstanding - size)

    def reset(self) -> None:
        """A gateway (re)connected: it starts counting from zero, and so do we."""
        self.outstanding = 0
