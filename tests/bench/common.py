"""Shared helpers of the benchmark: statistics, /proc readings, bare servers, result rows."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from tests.appliance import REPO

MiB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One line of the table: what robotctl measured, what the bare stack measured in the
    same run, the compared figure, the target and whether it is met."""
    measure: str
    robotctl: str
    baseline: str
    figure: str
    target: str
    met: Optional[bool]
    data: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def percentiles(samples: Sequence[float]) -> Dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "n": len(ordered)}


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def us(seconds: float) -> str:
    return "%.0f µs" % (seconds * 1e6)


def ms(seconds: float) -> str:
    return "%.0f ms" % (seconds * 1e3)


# -- /proc ----------------------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/PID/stat), in seconds."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# -- bare servers (tests/bench/baselines.py in a child process) ------------------------------

class Child:
    """A baseline server in its own process; it prints one JSON line when it is ready."""

    def __init__(self, *args: str, env: Optional[Dict[str, str]] = None):
        environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "tests.bench.baselines"] + list(args),
            cwd=str(REPO), env=environment, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("baseline %s did not start" % (args,))
        self.info: Dict[str, Any] = json.loads(line)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.info["port"]

    def pids(self) -> List[int]:
        """The server's processes: itself, and the worker it spawned, if any."""
        return [self.process.pid] + ([self.info["worker_pid"]] if "worker_pid" in self.info else [])

    def stop(self) -> None:
        if "worker_pid" in self.info:
            try:
                os.kill(self.info["worker_pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_quiet(seconds: float) -> None:
    time.sleep(seconds)


def fmt_stats(stats: Dict[str, float]) -> str:
    return "p50 %s / p90 %s / p99 %s" % (us(stats["p50"]), us(stats["p90"]), us(stats["p99"]))


def join(values: List[str]) -> str:
    return "; ".join(values)
