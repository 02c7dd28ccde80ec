"""Calls per second with 8 callers in flight at once, robotctl next to the naive design.

The naive design forwards every call over one REQ socket, one at a time; robotctl runs calls
concurrently. One AsyncClient keeps 8 calls in flight (robotctl admits one controller, so
concurrency comes from one client, as a UI's parallel requests do).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, List

from tests.bench import clients
from tests.bench.common import Child, Row, median

CALLERS = 8
CALLS_PER_CALLER = 250


def _calls_per_s(url: str) -> float:
    async def run() -> float:
        client = await clients.connect_async(url)
        data = clients.process("echo", value=1)

        async def caller() -> None:
            for _ in range(CALLS_PER_CALLER):
                clients.check(await client.call("process", data, timeout=30), "process")
        try:
            await asyncio.gather(*(caller() for _ in range(CALLERS // 2)))   # warm-up
            start = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(CALLERS)))
            return CALLERS * CALLS_PER_CALLER / (time.perf_counter() - start)
        finally:
            await client.disconnect()
            await asyncio.sleep(0.2)
    return asyncio.run(run())


def run(ctx: Any) -> List[Row]:
    ours: List[float] = []
    naive_rates: List[float] = []
    with Child("naive") as naive:
        for _ in range(ctx.rounds):
            naive_rates.append(_calls_per_s(naive.url))
            ours.append(_calls_per_s(ctx.url))
    ratio = median(ours) / median(naive_rates)
    return [Row("throughput with %d calls in flight" % CALLERS,
                "%.0f calls/s" % median(ours),
                "%.0f calls/s (naive design, one call at a time)" % median(naive_rates),
                "%.2f× the naive design's" % ratio, "≥ 2×", ratio >= 2.0,
                {"robotctl": ours, "naive": naive_rates})]
