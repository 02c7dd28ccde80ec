"""Reconnect → first successful ``process``, next to a bare echo server's connect + first call."""
from __future__ import annotations

import time
from typing import Any, List

import socketio

from tests.bench import clients
from tests.bench.common import Child, Row, median, ms

RUNS = 5


def _connect_and_call(url: str, event: str, data: Any) -> float:
    start = time.perf_counter()
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=10)
    ack = client.call(event, data, timeout=10)
    elapsed = time.perf_counter() - start
    if event == "process":
        clients.check(ack, "process")
    client.disconnect()
    time.sleep(0.3)     # the appliance admits one client: let it see this one leave
    return elapsed


def run(ctx: Any) -> List[Row]:
    bare: List[float] = []
    ours: List[float] = []
    with Child("echo") as echo:
        for _ in range(RUNS):
            bare.append(_connect_and_call(echo.url, "echo", 1))
            ours.append(_connect_and_call(ctx.url, "process", clients.process("echo", value=1)))
    ratio = median(ours) / median(bare)
    return [Row("reconnect → first successful process", "%s (median of %d)" % (ms(median(ours)), RUNS),
                "%s bare connect + first call" % ms(median(bare)), "%.2f× the bare" % ratio,
                "≤ 1.5×", ratio <= 1.5, {"robotctl": ours, "bare": bare})]
