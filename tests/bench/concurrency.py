"""A quick call while 4 slow ones run, next to the same quick call alone."""
from __future__ import annotations

import asyncio
import time
from typing import Any, List

from tests.bench import clients
from tests.bench.common import Row, median, us

SLOW_SECONDS = 1.5
QUICK_CALLS = 40


def run(ctx: Any) -> List[Row]:
    async def measure() -> Any:
        client = await clients.connect_async(ctx.url)
        quick = clients.process("echo", value=1)

        async def one() -> float:
            t = time.perf_counter()
            clients.check(await client.call("process", quick, timeout=10), "quick call")
            return time.perf_counter() - t

        alone: List[float] = []
        during: List[float] = []
        try:
            for _ in range(10):
                await one()
            for _ in range(ctx.rounds):
                for _ in range(QUICK_CALLS):
                    alone.append(await one())
                slow = [asyncio.ensure_future(client.call(
                    "process", clients.process("slow", seconds=SLOW_SECONDS), timeout=30))
                    for _ in range(4)]
                await asyncio.sleep(0.1)
                for _ in range(QUICK_CALLS):
                    if all(task.done() for task in slow):
                        break
                    during.append(await one())
                for ack in await asyncio.gather(*slow):
                    clients.check(ack, "slow call")
        finally:
            await client.disconnect()
            await asyncio.sleep(0.2)
        return alone, during

    alone, during = asyncio.run(measure())
    ratio = median(during) / median(alone)
    return [Row("quick call while 4 slow calls run",
                "%s p50 (%d calls)" % (us(median(during)), len(during)),
                "%s p50 alone" % us(median(alone)),
                "%.2f× alone" % ratio, "≤ 1.1×", ratio <= 1.1,
                {"alone": alone, "during": during})]
