"""Waiting for the executor's loop: ZeroMQ sockets and plain file descriptors, with one epoll.

``zmq.Poller`` builds a poll set and asks every socket for its state on every wait: in a
bare DEALER echo over ipc (the executor's loop without the executor) ~115 µs of CPU per
round trip against ~85 µs for a wait like this one and ~75 µs for a blocking ``recv``.

A ZeroMQ socket's ``FD`` becomes readable when its mailbox has news; what the news means is
read with ``EVENTS``, which also consumes it. So a socket that the loop uses all the time
(the command socket) is asked for ``EVENTS`` before every wait, as libzmq requires after any
send or receive on it, and a socket that nothing else touches (the monitor) only when its
``FD`` fired: until it is asked, its ``FD`` stays readable, and epoll (level-triggered)
keeps reporting it. Whoever is told a socket is ready reads it until ``readable`` says no
more: its news has been consumed, and its ``FD`` fires again only for new messages.

Not thread-safe: used by whichever thread leads the loop, one at a time (leadership).
"""
from __future__ import annotations

import select
import time
from typing import Dict, Optional, Sequence, Set, Union, cast

import zmq

Waitable = Union["zmq.Socket[bytes]", int]

# Plain ints: pyzmq's constants are enums, and each ``&`` of two builds a new one (~2 µs).
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)


def readable(sock: zmq.Socket[bytes]) -> bool:
    """Whether a message waits on ``sock`` now (this also consumes its FD's news)."""
    return bool(cast(int, sock.getsockopt(_EVENTS)) & _POLLIN)


class SocketWait:
    def __init__(self, busy: zmq.Socket[bytes], quiet: Sequence[zmq.Socket[bytes]],
                 fds: Sequence[int]):
        """``busy``: the socket the loop sends and receives on; ``quiet``: sockets only read
        after this reports them; ``fds``: plain file descriptors (a pipe)."""
        self._busy = busy
        # Quiet sockets whose news was consumed by a wait that reported them: asked again
        # at the next wait, in case they were not read (the loop may hand over first).
        # At the start, all: news may have arrived before this existed.
        self._unread: Set[zmq.Socket[bytes]] = set(quiet)
        self._epoll = select.epoll()
        self._by_fd: Dict[int, Optional[zmq.Socket[bytes]]] = {}
        for sock in [busy] + list(quiet):
            fd = sock.fileno()
            self._by_fd[fd] = sock
            self._epoll.register(fd, select.EPOLLIN)
        for fd in fds:
            self._by_fd[fd] = None
            self._epoll.register(fd, select.EPOLLIN)

    def wait(self, timeout: Optional[float]) -> Set[Waitable]:
        """What is ready to read: sockets with a message, fds that are readable; waits up to
        ``timeout`` seconds (None: until something is) if nothing is ready at once."""
        ready: Set[Waitable] = {sock for sock in self._unread if readable(sock)}
        if readable(self._busy):
            ready.add(self._busy)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            events = self._epoll.poll(0 if ready else _seconds_left(deadline))
            for fd, _ in events:
                sock = self._by_fd[fd]
                if sock is None:
                    ready.add(fd)
                elif sock not in ready and readable(sock):
                    ready.add(sock)
            # News that was no message (a peer's pipe attached): wait on, to the deadline.
            if ready or not events or _seconds_left(deadline) == 0:
                break
        self._unread = {sock for sock in ready if sock is not self._busy and not isinstance(sock, int)}
        return ready

    def close(self) -> None:
        self._epoll.close()


def _seconds_left(deadline: Optional[float]) -> float:
    """epoll's timeout: -1 for none, else what is left (0 once it has passed)."""
    return -1 if deadline is None else max(0.0, deadline - time.monotonic())
