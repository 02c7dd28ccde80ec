"""20,000 ``push_message`` events from user code to an AsyncClient, next to a bare server that
emits them directly (yielding every 100 emits); rounds alternate (at least ROUNDS)."""
from __future__ import annotations

from typing import Any, Dict, List

from tests.bench import clients
from tests.bench.common import Child, Row, cpu_seconds, median, ms

COUNT = 20000
ROUNDS = 7      # at least: a round is ~1 s, and three of them swung 0.76-1.00x between runs


def _burst(url: str, event: str, data: Any, server: int) -> Dict[str, float]:
    """One burst; ``cpu_us``: the server process's utime+stime per event received."""
    cpu = cpu_seconds(server)
    stream = clients.receive_stream(url, "tick", event, data, COUNT, 5)
    received = len(stream.arrivals)
    cpu_us = (cpu_seconds(server) - cpu) / max(1, received) * 1e6
    last = stream.arrivals[-1] if stream.arrivals else float("nan")
    return {"first": stream.arrivals[0] - stream.start if stream.arrivals else float("nan"),
            "msgs_per_s": received / (last - stream.start), "received": received,
            "dropped": COUNT - received, "drop_reports": len(stream.dropped), "cpu_us": cpu_us}


def run(ctx: Any) -> List[Row]:
    bare: List[Dict[str, float]] = []
    ours: List[Dict[str, float]] = []
    gateway = ctx.pids()["gateway"]
    with Child("emit") as emit:
        for _ in range(max(ctx.rounds, ROUNDS)):
            bare.append(_burst(emit.url, "burst", {"count": COUNT}, emit.pids()[0]))
            ours.append(_burst(ctx.url, "process", clients.process("burst", count=COUNT),
                               gateway))
    rate = median([r["msgs_per_s"] for r in ours])
    bare_rate = median([r["msgs_per_s"] for r in bare])
    first = median([r["first"] for r in ours])
    bare_first = median([r["first"] for r in bare])
    drops = sum(r["dropped"] for r in ours)
    return [
        Row("push throughput (%d push_message → AsyncClient)" % COUNT,
            "%.0f msgs/s; %d dropped in %d rounds; gateway CPU %.0f µs per event"
            % (rate, drops, len(ours), median([r["cpu_us"] for r in ours])),
            "%.0f msgs/s (direct emit, yield every 100); its CPU %.0f µs per event"
            % (bare_rate, median([r["cpu_us"] for r in bare])),
            "%.2f× the bare emit" % (rate / bare_rate),
            "≥ 0.9× msgs/s, zero drops", rate >= 0.9 * bare_rate and drops == 0,
            {"robotctl": ours, "bare": bare}),
        Row("push: time to the first event",
            ms(first), ms(bare_first), "%.2f× the bare emit" % (first / bare_first),
            "≤ 2× the bare server's", first <= 2 * bare_first,
            {"robotctl": [r["first"] for r in ours], "bare": [r["first"] for r in bare]}),
    ]
