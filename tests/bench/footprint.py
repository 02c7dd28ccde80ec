"""RSS of each process idle with a client connected, and CPU time over 10 s idle with and
without a client, read from /proc; next to bare interpreters importing the same libraries."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, Dict, List

from tests.bench import clients
from tests.bench.common import Row, cpu_seconds, rss_kib

IDLE_SECONDS = 10.0
GATEWAY_LIMIT_MIB = 40
EXECUTOR_LIMIT_MIB = 25
CPU_LIMIT_PERCENT = 0.5

BARE = {
    "gateway": "import eventlet, eventlet.wsgi, socketio, zmq, yaml",
    "executor": "import zmq, yaml",
    "supervisor": "import yaml, subprocess",
}


def bare_rss(imports: str) -> float:
    code = ("%s\nfor line in open('/proc/self/status'):\n"
            "    line.startswith('VmRSS:') and print(line.split()[1])" % imports)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def _cpu(pids: Dict[str, int]) -> Dict[str, float]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(IDLE_SECONDS)
    return {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}


def run(ctx: Any) -> List[Row]:
    pids = ctx.pids()
    time.sleep(2)
    alone = {name: rss_kib(pid) / 1024 for name, pid in pids.items()}
    cpu_alone = _cpu(pids)
    client = clients.connect(ctx.url)
    try:
        time.sleep(2)
        rss = {name: rss_kib(pid) / 1024 for name, pid in pids.items()}
        cpu_client = _cpu(pids)
    finally:
        client.disconnect()
        time.sleep(0.3)
    bare = {name: bare_rss(imports) for name, imports in BARE.items()}
    rows = []
    for name, limit in (("gateway", GATEWAY_LIMIT_MIB), ("executor", EXECUTOR_LIMIT_MIB),
                        ("supervisor", None)):
        rows.append(Row(
            "RSS of the %s, idle, client connected" % name,
            "%.1f MiB (%.1f MiB without a client)" % (rss[name], alone[name]),
            "%.1f MiB (python + %s)" % (bare[name], BARE[name].replace("import ", "")),
            "%+.1f MiB over the bare imports" % (rss[name] - bare[name]),
            "≤ %d MiB" % limit if limit else "–",
            rss[name] <= limit if limit else None,
            {"rss_mib": rss[name], "rss_no_client_mib": alone[name], "bare_mib": bare[name]}))
    for label, cpu in (("without", cpu_alone), ("with", cpu_client)):
        total = sum(cpu.values())
        percent = 100 * total / IDLE_SECONDS
        rows.append(Row(
            "CPU of all processes, %g s idle, %s a client" % (IDLE_SECONDS, label),
            "%.2f %% of one core (%s)" % (percent, ", ".join(
                "%s %.0f ms" % (name, 1000 * value) for name, value in cpu.items())),
            "–", "%.2f %%" % percent, "≤ %g %% of one core" % CPU_LIMIT_PERCENT,
            percent <= CPU_LIMIT_PERCENT, {"cpu_seconds": cpu}))
    return rows
