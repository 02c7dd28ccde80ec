"""UPDATE of a small project → first successful ``process``, next to the spawn-to-first-reply
of a bare ZeroMQ REP process (python + zmq + yaml, what the executor imports)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, List

import zmq

from tests.appliance import REPO
from tests.bench import clients
from tests.bench.common import Row, median, ms

RUNS = 5
MARGIN = 0.250


def _spawn_to_reply(address: str) -> float:
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.RECONNECT_IVL, 5)
    sock.connect(address)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "tests.bench.baselines", "rep", address],
                                 cwd=str(REPO), env=env)
        sock.send(b"ping")
        if not sock.poll(10000):
            raise RuntimeError("the bare REP process did not answer")
        sock.recv()
        elapsed = time.perf_counter() - start
        child.wait(10)
        return elapsed
    finally:
        sock.close(linger=0)
        context.term()


def _update_to_process(url: str, data: str) -> float:
    client = clients.connect(url)
    try:
        start = time.perf_counter()
        clients.check(client.call("update", {"data": data}, timeout=60), "update")
        clients.check(client.call("process", clients.process("echo", value=1), timeout=30),
                      "first process")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        time.sleep(0.3)


def run(ctx: Any) -> List[Row]:
    sockdir = tempfile.mkdtemp(prefix="rcb-", dir="/tmp")
    data = clients.project_b64()
    floor: List[float] = []
    ours: List[float] = []
    try:
        for i in range(RUNS):
            floor.append(_spawn_to_reply("ipc://%s/rep-%d.ipc" % (sockdir, i)))
            ours.append(_update_to_process(ctx.url, data))
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    extra = median(ours) - median(floor)
    return [Row("UPDATE (small project) → first successful process",
                "%s (median of %d)" % (ms(median(ours)), RUNS),
                "%s spawn → REP bound → first reply" % ms(median(floor)),
                "floor + %s" % ms(extra), "≤ floor + 250 ms", extra <= MARGIN,
                {"robotctl": ours, "floor": floor})]
