"""Reconnect → first successful ``process``, next to a bare echo server's connect + first call."""
from __future__ import annotations

import time
from typing import Any, List

import socketio

from tests.bench import clients
from tests.bench.common import Child, Row, median, ms

RUNS = 5


def _connect_and_call(url: str, event: str, data: Any, split: List[float]) -> float:
    start = time.perf_counter()
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=10)
    split.append(time.perf_counter() - start)
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
    bare_connect: List[float] = []
    ours_connect: List[float] = []
    with Child("echo") as echo:
        for _ in range(RUNS):
            bare.append(_connect_and_call(echo.url, "echo", 1, bare_connect))
            ours.append(_connect_and_call(ctx.url, "process", clients.process("echo", value=1),
                                            ours_connect))
    ratio = median(ours) / median(bare)
    return [Row(
        "reconnect → first successful process",
        "%s (median of %d; connect %s)" % (ms(median(ours)), RUNS, ms(median(ours_connect))),
        "%s bare connect + first call (connect %s)" % (ms(median(bare)), ms(median(bare_connect))),
        "%.2f× the bare" % ratio, "≤ 1.5×", ratio <= 1.5,
        {"robotctl": ours, "bare": bare, "robotctl_connect": ours_connect,
         "bare_connect": bare_connect})]
