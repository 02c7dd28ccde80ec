"""Client-side helpers: connecting (with a retry while the appliance still sees the previous
client), calls, and the payloads of the benchmark's fixture project."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

import socketio

from tests.appliance import FIXTURES, b64, zip_dir

PROJECT = "benchbot"


def process(method: str, **args: Any) -> Dict[str, Any]:
    return {"params": {"object": "bench", "method": method, "args": args}}


def project_b64(project: str = PROJECT) -> str:
    return b64(zip_dir(FIXTURES / project))


def connect(url: str, timeout: float = 10.0, role: str = "controller") -> socketio.Client:
    deadline = time.monotonic() + timeout
    while True:
        client = socketio.Client(reconnection=False)
        try:
            client.connect(url, transports=["websocket"], wait_timeout=10, auth={"role": role})
            return client
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def connect_async(url: str, timeout: float = 10.0) -> socketio.AsyncClient:
    import asyncio
    deadline = time.monotonic() + timeout
    while True:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(url, transports=["websocket"], wait_timeout=10)
            return client
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def check(ack: Any, what: str) -> Any:
    if not (isinstance(ack, dict) and ack.get("status") == "success"):
        raise RuntimeError("%s failed: %r" % (what, ack if len(repr(ack)) < 500 else repr(ack)[:500]))
    return ack.get("data")


def install_project(url: str, project: str = PROJECT) -> None:
    client = connect(url)
    try:
        check(client.call("update", {"data": project_b64(project)}, timeout=60), "update")
    finally:
        client.disconnect()


@dataclass
class Stream:
    """What an AsyncClient received after asking for a stream of events."""
    start: float = 0.0                         # perf_counter when the request was sent
    arrivals: List[float] = field(default_factory=list)
    values: List[Any] = field(default_factory=list)      # keep(value) of each event
    dropped: List[Any] = field(default_factory=list)     # robotctl:push_dropped reports


def receive_stream(url: str, listen: str, ask: str, data: Any, count: int, timeout: float,
                   keep: Callable[[Any], Any] = lambda value: value,
                   before: Callable[[], None] = lambda: None) -> Stream:
    """Connect an AsyncClient, call ``ask`` with ``data`` and collect up to ``count``
    ``listen`` events (waiting ``timeout`` s for them). ``before`` runs just before the call."""
    import asyncio

    async def run() -> Stream:
        client = await connect_async(url)
        stream = Stream()
        done = asyncio.Event()

        def settled() -> None:
            # Every event arrived, or the rest was reported dropped (a byte budget).
            lost = sum(report.get("by_event", {}).get(listen, 0) for report in stream.dropped)
            if len(stream.values) + lost >= count:
                done.set()

        def on_event(value: Any) -> None:
            stream.arrivals.append(time.perf_counter())
            stream.values.append(keep(value))
            settled()

        def on_dropped(report: Any) -> None:
            stream.dropped.append(report)
            settled()
        client.on(listen, on_event)
        client.on("robotctl:push_dropped", on_dropped)
        try:
            await asyncio.sleep(0.2)       # connect-time traffic settles first
            before()
            stream.start = time.perf_counter()
            ack = await client.call(ask, data, timeout=120)
            if ask == "process":
                check(ack, listen)
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(0.2)       # anything late or any drop report
            return stream
        finally:
            await client.disconnect()
            await asyncio.sleep(0.2)
    return asyncio.run(run())
