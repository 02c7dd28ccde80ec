"""`make soak`: run an appliance for minutes under steady load; memory and fds must stay flat.

Load: the soakbot project pushes `tick` at 100 Hz, the controller makes 50 calls/s, and an
observer connects and disconnects every few seconds. Every 10 s the RSS and open file
descriptors of the gateway and the executor are sampled. At the end the series is printed,
and the run fails (exit status 1) if the last third of the samples is above the first third
by more than a small tolerance, if a call failed, or if a process was restarted.

    python -m tests.soak [--seconds N]      (default: $SOAK_SECONDS, else 300)
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

import socketio

from tests.appliance import Appliance
from tests.integration.conftest import call, upload
from tests.rawsocketio import open_fds, vm_rss

SAMPLE_EVERY = 10.0
CALL_RATE = 50.0
PUSH_RATE = 100.0
RECONNECT_EVERY = 3.0
RSS_TOLERANCE = (0.05, 6 * 2 ** 20)     # 5 %, at least 6 MiB
FD_TOLERANCE = 3


class Load:
    def __init__(self, app: Appliance):
        self.app = app
        self.stop = threading.Event()
        self.calls = self.failures = self.reconnects = self.ticks = 0
        self.errors: List[str] = []
        self.controller = socketio.Client(reconnection=False)
        self.controller.on("tick", self._tick)
        self.controller.connect(app.url, transports=["websocket"])

    def _tick(self, data) -> None:
        self.ticks += 1

    def start(self) -> List[threading.Thread]:
        assert upload(self.controller, "soakbot")["status"] == "success"
        assert self.controller.call("start", {}, timeout=60)["status"] == "success"
        assert call(self.controller, "soak", "push_at", [PUSH_RATE])["status"] == "success"
        threads = [threading.Thread(target=self._calls, daemon=True),
                   threading.Thread(target=self._reconnects, daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _calls(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            reply = call(self.controller, "soak", "call", [self.calls], timeout=30)
            self.calls += 1
            if reply["status"] != "success":
                self.failures += 1
                self.errors.append(reply["message"])
            next_at += 1.0 / CALL_RATE
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _reconnects(self) -> None:
        while not self.stop.is_set():
            observer = socketio.Client(reconnection=False)
            try:
                observer.connect(self.app.url, transports=["websocket"],
                                 auth={"role": "observer"})
                self.stop.wait(RECONNECT_EVERY * 2 / 3)
                observer.disconnect()
                self.reconnects += 1
            except Exception as e:   # counted, and fails the run
                self.failures += 1
                self.errors.append("observer: %s" % e)
            self.stop.wait(RECONNECT_EVERY / 3)


def sample(pids: Dict[str, int]) -> Dict[str, int]:
    row = {}
    for name, pid in pids.items():
        row[name + "_rss"] = vm_rss(pid)
        row[name + "_fds"] = open_fds(pid)
    return row


def grew(first: List[int], last: List[int], tolerance: float) -> bool:
    return statistics.median(last) > statistics.median(first) + tolerance


def judge(series: List[Dict[str, int]]) -> List[str]:
    third = max(1, len(series) // 3)
    problems = []
    for key in series[0]:
        first = [row[key] for row in series[:third]]
        last = [row[key] for row in series[-third:]]
        if key.endswith("_rss"):
            tolerance = max(RSS_TOLERANCE[0] * statistics.median(first), RSS_TOLERANCE[1])
        else:
            tolerance = FD_TOLERANCE
        if grew(first, last, tolerance):
            problems.append("%s grew: first third median %d, last third median %d (tolerance "
                            "%d)" % (key, statistics.median(first), statistics.median(last),
                                     tolerance))
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("SOAK_SECONDS") or 300))
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="robotctl-soak-"))
    app = Appliance(root).start()
    load = None
    try:
        load = Load(app)
        threads = load.start()
        pids = {"gateway": app.gateway_pid(), "executor": app.executor_pid()}
        print("soak: %g s; gateway pid %d, executor pid %d; pushes %g Hz, calls %g/s, an "
              "observer reconnecting every %g s" % (args.seconds, pids["gateway"],
                                                    pids["executor"], PUSH_RATE, CALL_RATE,
                                                    RECONNECT_EVERY), flush=True)
        series: List[Dict[str, int]] = []
        started = time.monotonic()
        header = "%7s %12s %7s %12s %7s %8s %8s %6s" % (
            "t/s", "gateway RSS", "fds", "executor RSS", "fds", "calls", "ticks", "conns")
        print(header, flush=True)
        while True:
            time.sleep(max(0.0, started + SAMPLE_EVERY * (len(series) + 1) - time.monotonic()))
            row = sample(pids)
            series.append(row)
            print("%7.0f %9.1f MiB %7d %9.1f MiB %7d %8d %8d %6d" % (
                time.monotonic() - started, row["gateway_rss"] / 2 ** 20, row["gateway_fds"],
                row["executor_rss"] / 2 ** 20, row["executor_fds"], load.calls, load.ticks,
                load.reconnects), flush=True)
            if time.monotonic() - started >= args.seconds:
                break
        load.stop.set()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
        problems = judge(series)
        if (app.gateway_pid(), app.executor_pid()) != (pids["gateway"], pids["executor"]):
            problems.append("a process was restarted during the soak")
        if load.failures:
            problems.append("%d failures, e.g. %s" % (load.failures, load.errors[:3]))
        print("soak: %d calls (%.1f/s), %d ticks received (%.1f/s), %d observer reconnects"
              % (load.calls, load.calls / elapsed, load.ticks, load.ticks / elapsed,
                 load.reconnects))
        for problem in problems:
            print("soak: FAIL: %s" % problem)
        print("soak: %s" % ("FAIL" if problems else "OK: RSS and fds stayed flat"))
        return 1 if problems else 0
    finally:
        if load is not None and load.controller.connected:
            load.controller.disconnect()
        app.stop()
        shutil.rmtree(str(root), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
