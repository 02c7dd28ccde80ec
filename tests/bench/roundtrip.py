"""``process`` round trips, one call in flight, and the server CPU each call costs, next to the
naive design (the original's shape: Socket.IO → green ZeroMQ REQ → a REP process), the bare
echo (the method runs in the server, no isolation), robotctl's two hops built from stock parts
(``baselines forwarder``: the floor of its shape) and a bare DEALER/ROUTER hop."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import zmq

from tests.bench import clients
from tests.bench.common import Child, Row, cpu_seconds, fmt_stats, percentiles, us

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


class _Cpu:
    """utime+stime of a server's processes, each by its role, summed over the rounds it is
    measured in."""

    def __init__(self, pids: Callable[[], Dict[str, int]]):
        self._pids = pids
        self.seconds: Dict[str, float] = {}
        self.calls = 0

    def measure(self, calls: int, work: Callable[[], Tuple[List[float], float]]
                ) -> Tuple[List[float], float]:
        pids = self._pids()
        before = {role: cpu_seconds(pid) for role, pid in pids.items()}
        result = work()
        for role, pid in pids.items():
            self.seconds[role] = self.seconds.get(role, 0.0) + cpu_seconds(pid) - before[role]
        self.calls += calls + WARMUP
        return result

    @property
    def per_call(self) -> float:
        return sum(self.seconds.values()) / self.calls

    def role_per_call(self, role: str) -> float:
        return self.seconds[role] / self.calls


def _roles(pids: List[int], names: Tuple[str, ...]) -> Dict[str, int]:
    return dict(zip(names, pids))


def run(ctx: Any) -> List[Row]:
    sockdir = tempfile.mkdtemp(prefix="rcb-", dir="/tmp")
    address = "ipc://%s/router.ipc" % sockdir
    samples: Dict[str, List[float]] = {}
    rates: Dict[str, List[float]] = {}

    def add(name: str, result: Tuple[List[float], float]) -> None:
        samples.setdefault(name, []).extend(result[0])
        rates.setdefault(name, []).append(result[1])

    app_data = clients.process("echo", value=PAYLOAD)
    app_pids = lambda: {name: pid for name, pid in ctx.pids().items() if name in ("gateway", "executor")}  # noqa: E731
    with Child("echo") as echo, Child("naive") as naive, Child("forwarder") as floor, \
            Child("router", address):
        servers = {"echo": (echo.url, "echo", PAYLOAD, _Cpu(lambda: _roles(echo.pids(), ("server",)))),
                   "naive": (naive.url, "process", app_data,
                             _Cpu(lambda: _roles(naive.pids(), ("server", "worker")))),
                   "floor": (floor.url, "process", app_data,
                             _Cpu(lambda: _roles(floor.pids(), ("server", "echo")))),
                   "robotctl": (ctx.url, "process", app_data, _Cpu(app_pids))}
        for _ in range(ctx.rounds):
            for name, (url, event, data, cpu) in servers.items():
                add(name + " sync", cpu.measure(CALLS, lambda: _sync(url, event, data)))
                add(name + " async", cpu.measure(CALLS, lambda: _async(url, event, data)))
            add("dealer/router", _dealer(address))
    os.rmdir(sockdir) if not os.listdir(sockdir) else None
    stats = {name: dict(percentiles(values), calls_per_s=sorted(rates[name])[len(rates[name]) // 2])
             for name, values in samples.items()}
    return [_latency_row(kind, stats) for kind in ("sync", "async")] + [
        _cpu_row({name: server[3] for name, server in servers.items()})]


def _latency_row(kind: str, stats: Dict[str, Dict[str, float]]) -> Row:
    app, naive, echo, floor = (stats[name + " " + kind]
                               for name in ("robotctl", "naive", "echo", "floor"))
    to_naive, to_echo = app["p50"] / naive["p50"], app["p50"] / echo["p50"]
    return Row(
        measure="process round trip, %s client" % ("python sync" if kind == "sync" else "AsyncClient"),
        robotctl="%s; %.0f calls/s" % (fmt_stats(app), app["calls_per_s"]),
        baseline="naive design %s · bare echo %s · the same hops from stock parts %s · "
                 "DEALER/ROUTER p50 %s" % (fmt_stats(naive), fmt_stats(echo), fmt_stats(floor),
                                           us(stats["dealer/router"]["p50"])),
        figure="p50 %.2f× the naive design's, %.2f× the echo's; p99 %.2f× the naive design's" % (
            to_naive, to_echo, app["p99"] / naive["p99"]),
        target="p50 ≤ 0.9× naive and ≤ 1.3× echo; p99 ≤ naive",
        met=to_naive <= 0.9 and to_echo <= 1.3 and app["p99"] <= naive["p99"],
        data={"robotctl": app, "naive": naive, "echo": echo, "floor": floor,
              "dealer_router": stats["dealer/router"]})


def _cpu_row(meters: Dict[str, _Cpu]) -> Row:
    cpu = {name: meter.per_call for name, meter in meters.items()}
    app, naive, floor = meters["robotctl"], meters["naive"], meters["floor"]
    ratio = cpu["robotctl"] / cpu["naive"]
    return Row(
        measure="server CPU per call (utime+stime of every server process, over the calls)",
        robotctl="%s (gateway %s + executor %s)" % (
            us(cpu["robotctl"]), us(app.role_per_call("gateway")), us(app.role_per_call("executor"))),
        baseline="naive design %s (server %s + REP process %s) · bare echo %s · the same hops "
                 "from stock parts %s (server %s + ROUTER echo %s)" % (
            us(cpu["naive"]), us(naive.role_per_call("server")), us(naive.role_per_call("worker")),
            us(cpu["echo"]), us(cpu["floor"]), us(floor.role_per_call("server")),
            us(floor.role_per_call("echo"))),
        figure="%.2f× the naive design's, %.2f× the echo's; the stock parts %.2f× the naive "
               "design's" % (ratio, cpu["robotctl"] / cpu["echo"], cpu["floor"] / cpu["naive"]),
        target="≤ 0.9× the naive design's", met=ratio <= 0.9,
        data=dict(cpu, **{"robotctl " + role: app.role_per_call(role) for role in app.seconds},
                  **{"naive " + role: naive.role_per_call(role) for role in naive.seconds},
                  **{"floor " + role: floor.role_per_call(role) for role in floor.seconds}))
