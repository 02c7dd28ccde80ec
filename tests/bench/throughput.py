"""Calls per second with 8 callers in flight at once, robotctl next to the naive design and
the bare echo.

The naive design forwards every call over one REQ socket, one at a time; robotctl runs calls
concurrently. One AsyncClient keeps 8 calls in flight (robotctl admits one controller, so
concurrency comes from one client, as a UI's parallel requests do). The bare echo (the
method runs in the Socket.IO server) with the same client shows what the client and one
Socket.IO hop allow on this machine; the client's own CPU per call (this process's
utime+stime over the timed calls) shows whether the client itself caps the rate, since
client and servers share the machine's cores.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Tuple

from tests.bench import clients
from tests.bench.common import Child, Row, median, us

CALLERS = 8
CALLS_PER_CALLER = 250


def _calls_per_s(url: str, event: str, data: Any) -> Tuple[float, float]:
    """Calls per second, and the client's CPU seconds per call."""
    async def run() -> Tuple[float, float]:
        client = await clients.connect_async(url)

        async def caller() -> None:
            for _ in range(CALLS_PER_CALLER):
                ack = await client.call(event, data, timeout=30)
                if event != "echo":       # the bare echo acks with its data as it is
                    clients.check(ack, event)
                elif ack != data:
                    raise RuntimeError("the echo answered %r" % (ack,))
        try:
            await asyncio.gather(*(caller() for _ in range(CALLERS // 2)))   # warm-up
            start, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(caller() for _ in range(CALLERS)))
            calls = CALLERS * CALLS_PER_CALLER
            return calls / (time.perf_counter() - start), (time.process_time() - cpu) / calls
        finally:
            await client.disconnect()
            await asyncio.sleep(0.2)
    return asyncio.run(run())


def run(ctx: Any) -> List[Row]:
    data = clients.process("echo", value=1)
    rates: Dict[str, List[float]] = {"robotctl": [], "naive": [], "echo": []}
    client_cpu: Dict[str, List[float]] = {name: [] for name in rates}
    with Child("naive") as naive, Child("echo") as echo:
        targets = {"naive": (naive.url, "process", data), "robotctl": (ctx.url, "process", data),
                   "echo": (echo.url, "echo", data)}
        for _ in range(ctx.rounds):
            for name, (url, event, payload) in targets.items():
                rate, seconds = _calls_per_s(url, event, payload)
                rates[name].append(rate)
                client_cpu[name].append(seconds)
    ours, naive_rate, echo_rate = (median(rates[name]) for name in ("robotctl", "naive", "echo"))
    cpu = {name: us(median(values)) for name, values in client_cpu.items()}
    ratio = ours / naive_rate
    return [Row("throughput with %d calls in flight" % CALLERS,
                "%.0f calls/s; the client's CPU %s per call" % (ours, cpu["robotctl"]),
                "%.0f calls/s (naive design, one call at a time; client %s per call) · bare echo "
                "%.0f calls/s (client %s per call)" % (naive_rate, cpu["naive"], echo_rate,
                                                       cpu["echo"]),
                "%.2f× the naive design's, %.2f× the echo's" % (ratio, ours / echo_rate),
                "≥ 2×", ratio >= 2.0,
                {"robotctl": rates["robotctl"], "naive": rates["naive"], "echo": rates["echo"],
                 "client_cpu": client_cpu})]
