"""A client watching a live stream while it calls ``process``, as a robot's frontend does:
``python -m tests.stream_client URL [options]`` prints one JSON line of what it saw.

It connects, optionally starts the stream (``process camera.start``), then for ``--seconds``
records the age of every ``camera`` frame on arrival (now minus the time the project stamped
in it), counts ``robot_state`` events, and calls ``process ping`` ``--call-hz`` times a second,
timing each round trip. Run in a network namespace behind a shaped link (tests/shaped_link.py)
by the stream tests and ``make bench``; it speaks only the protocol, so the bench's bare
server is measured by the same code.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any, Dict, List, Optional

import socketio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--call-hz", type=float, default=0.0)
    parser.add_argument("--role", default="controller")
    parser.add_argument("--start", help="JSON args of camera.start; omitted: do not start")
    parser.add_argument("--stop", action="store_true", help="call camera.stop at the end")
    parser.add_argument("--subscribe", help="JSON rates to subscribe to first")
    parser.add_argument("--bare", action="store_true", help="the bench's bare server (no status)")
    args = parser.parse_args()
    print(json.dumps(watch(args)), flush=True)


def skip_utf8_validation() -> None:
    """websocket-client checks that text frames are UTF-8 in pure Python (about 1 MiB/s on
    these machines), so at 2 MiB/s the client, not the link, would be the bottleneck and the
    delay would pile up in its receive buffer. A browser does this natively; so skip it.
    (bookworm's python-engineio has no ``websocket_extra_options`` to pass the flag.)"""
    import websocket
    create = websocket.create_connection

    def create_connection(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("skip_utf8_validation", True)
        return create(*args, **kwargs)
    websocket.create_connection = create_connection


def watch(args: argparse.Namespace) -> Dict[str, Any]:
    skip_utf8_validation()
    client = socketio.Client(reconnection=False)
    ages: List[float] = []
    arrivals: List[float] = []      # seconds since connecting, per frame
    seqs: List[int] = []
    states: List[int] = []
    disconnects: List[float] = []
    reports: List[Any] = []

    started = time.time()

    def frame(data: Any) -> None:
        now = time.time()
        ages.append(now - data["t"])
        arrivals.append(now - started)
        seqs.append(data["seq"])
    client.on("camera", frame)
    client.on("robot_state", lambda data: states.append(data["seq"]))
    client.on("robotctl:push_dropped", reports.append)
    client.on("disconnect", lambda *reason: disconnects.append(time.time() - started))
    client.connect(args.url, transports=["websocket"], auth={"role": args.role},
                   wait_timeout=30)
    result: Dict[str, Any] = {}
    if args.subscribe:
        result["subscribed"] = client.call("subscribe", {"rates": json.loads(args.subscribe)})
    if args.start:
        result["started"] = call(client, "camera", "start", json.loads(args.start))
    rtts, failed = timed_calls(client, args.seconds, args.call_hz)
    if client.connected and not args.bare:    # what the gateway and kernel hold, per client
        status = client.call("status", {}, timeout=30) or {}
        result["clients"] = (status.get("data") or {}).get("clients")
    if args.stop and client.connected:
        call(client, "camera", "stop", {})
    result.update({"ages": ages, "arrivals": arrivals, "seqs": seqs, "states": len(states), "rtts": rtts,
                   "failed_calls": failed, "disconnects": len(disconnects),
                   "disconnected_after": disconnects[0] if disconnects else None,
                   "connected": client.connected, "drop_reports": reports})
    if client.connected:
        client.disconnect()
    return result


def call(client: socketio.Client, obj: Optional[str], method: str, args: Any, timeout: float = 30) -> Any:
    return client.call("process", {"params": {"object": obj, "method": method, "args": args}},
                       timeout=timeout)


def timed_calls(client: socketio.Client, seconds: float, hz: float) -> Any:
    """Call ping ``hz`` times a second for ``seconds`` (or just wait); the round trips."""
    rtts: List[float] = []
    failed: List[str] = []
    end = time.monotonic() + seconds
    if not hz:
        stopped = threading.Event()
        stopped.wait(seconds)
        return rtts, failed
    due = time.monotonic()
    while time.monotonic() < end and client.connected:
        started = time.monotonic()
        try:
            reply = call(client, None, "ping", None, timeout=10)
            if reply.get("data") != "pong":
                failed.append(repr(reply)[:200])
            rtts.append(time.monotonic() - started)
        except Exception as e:       # a timeout, or the connection lost during the call
            failed.append(type(e).__name__)
        due += 1.0 / hz
        time.sleep(max(0.0, due - time.monotonic()))
    return rtts, failed


if __name__ == "__main__":
    main()
