"""Calls per second with 8 callers in flight at once, robotctl next to the naive design and
the bare echo.

The naive design forwards every call over one REQ socket, one at a time; robotctl runs calls
concurrently. One AsyncClient keeps 8 calls in flight (robotctl admits one controller, so
concurrency comes from one client, as a UI's parallel requests do). The bare echo (the method
runs in a stock python-socketio server, no IPC at all) driven by the same client shows the
ceiling this client and machine allow, and the client's own CPU per call shows why: client
and servers share the machine's cores. robotctl's two hops built from stock parts
(``baselines forwarder``, calls overlapping) show what its shape allows.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Tuple

from tests.bench import clients
from tests.bench.common import Child, Row, median, us

CALLERS = 8
CALLS_PER_CALLER = 250


def _calls_per_s(url: str, event: str = "process") -> Tuple[float, float]:
    """Calls per second, and the client process's CPU seconds per call."""
    data: Any = clients.process("echo", value=1) if event == "process" else 1

    async def run() -> Tuple[float, float]:
        client = await clients.connect_async(url)

        async def caller() -> None:
            for _ in range(CALLS_PER_CALLER):
                ack = await client.call(event, data, timeout=30)
                if event == "process":
                    clients.check(ack, "process")
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
    names = ("robotctl", "naive", "floor", "echo")
    rates: Dict[str, List[float]] = {name: [] for name in names}
    client_cpu: Dict[str, List[float]] = {name: [] for name in names}

    def measure(name: str, url: str, event: str = "process") -> None:
        rate, cpu = _calls_per_s(url, event)
        rates[name].append(rate)
        client_cpu[name].append(cpu)
    with Child("naive") as naive, Child("forwarder") as floor, Child("echo") as echo:
        for _ in range(ctx.rounds):
            measure("naive", naive.url)
            measure("robotctl", ctx.url)
            measure("floor", floor.url)
            measure("echo", echo.url, "echo")
    ours, theirs, stock, ceiling = (median(rates[name]) for name in names)
    ratio = ours / theirs
    return [Row("throughput with %d calls in flight" % CALLERS,
                "%.0f calls/s (the client's CPU %s per call)"
                % (ours, us(median(client_cpu["robotctl"]))),
                "%.0f calls/s (naive design, one call at a time) · the same hops from stock parts "
                "%.0f calls/s (calls overlap) · bare echo %.0f calls/s with the same client (the "
                "client's CPU %s per call)"
                % (theirs, stock, ceiling, us(median(client_cpu["echo"]))),
                "%.2f× the naive design's; the stock parts reach %.2f×, the bare echo %.2f×"
                % (ratio, stock / theirs, ceiling / theirs),
                "≥ 2×", ratio >= 2.0, {"rates": rates, "client_cpu": client_cpu})]
