"""``process`` round trips, one call in flight, next to the bare echo and DEALER/ROUTER."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any, Dict, List, Tuple

import zmq

from tests.bench import clients
from tests.bench.common import Child, Row, fmt_stats, percentiles, us

CALLS = 500      # per round and path
WARMUP = 50
PAYLOAD = {"x": 1, "name": "Move", "v": [0.1, 0.2, 0.0]}


def _sync(url: str, event: str, data: Any) -> Tuple[List[float], float]:
    client = clients.connect(url)
    try:
        for _ in range(WARMUP):
            client.call(event, data, timeout=10)
        samples = []
        start = time.perf_counter()
        for _ in range(CALLS):
            t = time.perf_counter()
            ack = client.call(event, data, timeout=10)
            samples.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        if event == "process":
            clients.check(ack, "process")
        return samples, CALLS / elapsed
    finally:
        client.disconnect()
        time.sleep(0.2)


def _async(url: str, event: str, data: Any) -> Tuple[List[float], float]:
    async def run() -> Tuple[List[float], float]:
        client = await clients.connect_async(url)
        try:
            for _ in range(WARMUP):
                await client.call(event, data, timeout=10)
            samples = []
            start = time.perf_counter()
            for _ in range(CALLS):
                t = time.perf_counter()
                ack = await client.call(event, data, timeout=10)
                samples.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - start
            if event == "process":
                clients.check(ack, "process")
            return samples, CALLS / elapsed
        finally:
            await client.disconnect()
            await asyncio.sleep(0.2)
    return asyncio.run(run())


def _dealer(address: str) -> Tuple[List[float], float]:
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.connect(address)
    body = json.dumps({"command": "process", "args": PAYLOAD}).encode()
    try:
        for i in range(WARMUP):
            sock.send_multipart([b"%d" % i, body])
            sock.recv_multipart()
        samples = []
        start = time.perf_counter()
        for i in range(CALLS):
            t = time.perf_counter()
            sock.send_multipart([b"%d" % i, body])
            json.loads(sock.recv_multipart()[1])
            samples.append(time.perf_counter() - t)
        return samples, CALLS / (time.perf_counter() - start)
    finally:
        sock.close(linger=0)
        context.term()


def run(ctx: Any) -> List[Row]:
    sockdir = tempfile.mkdtemp(prefix="rcb-", dir="/tmp")
    address = "ipc://%s/router.ipc" % sockdir
    samples: Dict[str, List[float]] = {}
    rates: Dict[str, List[float]] = {}

    def add(name: str, result: Tuple[List[float], float]) -> None:
        samples.setdefault(name, []).extend(result[0])
        rates.setdefault(name, []).append(result[1])

    app_data = clients.process("echo", value=PAYLOAD)
    with Child("echo") as echo, Child("router", address):
        for _ in range(ctx.rounds):
            add("echo sync", _sync(echo.url, "echo", PAYLOAD))
            add("robotctl sync", _sync(ctx.url, "process", app_data))
            add("echo async", _async(echo.url, "echo", PAYLOAD))
            add("robotctl async", _async(ctx.url, "process", app_data))
            add("dealer/router", _dealer(address))
    os.rmdir(sockdir) if not os.listdir(sockdir) else None
    stats = {name: dict(percentiles(values), calls_per_s=sorted(rates[name])[len(rates[name]) // 2])
             for name, values in samples.items()}
    dr = stats["dealer/router"]
    rows = []
    for kind in ("sync", "async"):
        app, echo_stats = stats["robotctl " + kind], stats["echo " + kind]
        added = app["p50"] - echo_stats["p50"]
        limit = 1.5 * dr["p50"]
        rows.append(Row(
            measure="process round trip, %s client" % ("python sync" if kind == "sync" else "AsyncClient"),
            robotctl="%s; %.0f calls/s" % (fmt_stats(app), app["calls_per_s"]),
            baseline="echo %s; %.0f calls/s · DEALER/ROUTER p50 %s" % (
                fmt_stats(echo_stats), echo_stats["calls_per_s"], us(dr["p50"])),
            figure="adds %s p50 = %.2f× DEALER/ROUTER p50 (%.2f× the echo)" % (
                us(added), added / dr["p50"], app["p50"] / echo_stats["p50"]),
            target="added p50 ≤ 1.5× DEALER/ROUTER p50 (%s)" % us(limit),
            met=added <= limit,
            data={"robotctl": app, "echo": echo_stats, "dealer_router": dr}))
    return rows
