"""The ZeroMQ socket layout, as one table, and the one helper that opens sockets from it.

The gateway is the long-lived side, so it binds; the executor (restarted after every update)
and the watch service connect. Commands travel on ROUTER/DEALER with request ids, so calls
run concurrently; everything the executor says travels on PUSH/PULL, which blocks instead of
dropping at the high-water mark and queues on the connecting side while the gateway is away.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List

import zmq

# A count of messages on the executor's event channel (its send queue, the gateway's receive
# queue). Not the bound: 100,000 camera frames are 10 GB. The bound is in bytes,
# executor.event_buffer_bytes (executor/send_credit.py), and a push that would pass it is
# dropped before ZeroMQ sees it. This count is the backstop against a flood of tiny messages,
# whose per-message overhead the byte count does not see; the gateway drains the channel eagerly
# into its own per-client queues, where a slow client's backlog is bounded and reported.
EVENT_HWM = 100000


@dataclass(frozen=True)
class SocketSpec:
    type: int
    action: str        # "bind" or "connect"
    address_key: str   # key in the ipc: section of the config
    options: Dict[int, Any]


_CONNECTING: Dict[int, Any] = {zmq.LINGER: 0, zmq.RECONNECT_IVL: 20, zmq.RECONNECT_IVL_MAX: 200}

LAYOUT: Dict[str, SocketSpec] = {
    "gateway.command": SocketSpec(zmq.ROUTER, "bind", "command_socket",
                                  {zmq.LINGER: 0, zmq.ROUTER_MANDATORY: 1}),
    "gateway.callback": SocketSpec(zmq.PULL, "bind", "callback_socket",
                                   {zmq.LINGER: 0, zmq.RCVHWM: EVENT_HWM}),
    "executor.command": SocketSpec(zmq.DEALER, "connect", "command_socket", dict(_CONNECTING)),
    # LINGER: the reply to an update is sent just before the executor exits; let it drain.
    "executor.callback": SocketSpec(zmq.PUSH, "connect", "callback_socket",
                                    {**_CONNECTING, zmq.LINGER: 2000, zmq.SNDHWM: EVENT_HWM}),
    "watch.command": SocketSpec(zmq.DEALER, "connect", "command_socket", dict(_CONNECTING)),
}


def open_socket(context: zmq.Context[zmq.Socket[bytes]], role: str, ipc: Any,
                **options: Any) -> zmq.Socket[bytes]:
    """Create the socket ``role`` of LAYOUT, apply its options, and bind or connect it.

    ``ipc`` is the config's ipc section; extra keyword options (e.g. ``routing_id=b"…"``)
    are set before connecting. A bound ipc socket file is made group-accessible only.
    """
    spec = LAYOUT[role]
    sock = context.socket(spec.type)
    for option, value in spec.options.items():
        sock.setsockopt(option, value)
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name.upper()), value)
    address = getattr(ipc, spec.address_key)
    if spec.action == "bind":
        path = address[len("ipc://"):]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sock.bind(address)
        os.chmod(path, 0o660)
    else:
        sock.connect(address)
    return sock


def peer_events(sock: zmq.Socket[bytes]) -> zmq.Socket[bytes]:
    """A monitor socket that reports the peer connecting and disconnecting."""
    return sock.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)


def read_peer_event(monitor: zmq.Socket[bytes]) -> int:
    """Receive one monitor event and return its zmq.EVENT_* number."""
    return peer_event_number(monitor.recv_multipart())


def peer_event_number(frames: List[bytes]) -> int:
    """The zmq.EVENT_* number of a monitor message."""
    return int.from_bytes(frames[0][:2], "little")
