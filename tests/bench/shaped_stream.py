"""Live streams on a slow link (needs root, ``ip`` and ``tc``): a veth pair into a network
namespace shaped to 2 MiB/s (tests/shaped_link.py), the client inside it.

The project pushes 100 KB frames at 30 fps with ``latest=True`` plus ``robot_state`` at
100 Hz for STREAM_SECONDS (default 60; ``STREAM_SECONDS=20 make bench`` for a trial) while
the controller calls ``process`` at 20 Hz (tests/stream_client.py). The same client then
watches a bare python-socketio server that emits the same frames on the same link. A last
run puts a stuck observer (reads nothing, answers pings blindly) beside the reading
controller and samples what the gateway holds for it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from tests import shaped_link as shaping
from tests.appliance import REPO, Appliance
from tests.bench import clients
from tests.bench.common import Child, MiB, Row, percentiles, rss_kib

SECONDS = float(os.environ.get("STREAM_SECONDS", "60"))
STUCK_SECONDS = min(SECONDS, 25.0)     # under the default stall_timeout (30 s)
START = {"fps": 30, "frame_bytes": 100000, "latest": True, "state_hz": 100}
BUDGET = 4 * MiB                       # the default gateway.client_buffer_bytes


def run(ctx: Any) -> List[Row]:
    if not shaping.available():
        return [Row("shaped link (2 MiB/s) streams", "skipped: needs root, ip and tc", "", "",
                    "", None)]
    with shaping.shaped_link(os.getpid() % 10000) as link:
        ours, ours_rss = _robotctl(link, SECONDS, stuck=False)
        with Child("stream", link.ours) as bare:
            url = "http://%s:%d" % (link.ours, bare.info["port"])
            peak = _PeakRss(bare.process.pid)
            theirs = _watch(link, url, SECONDS, bare=True)
            theirs_rss = peak.stop()
        beside, held = _robotctl(link, STUCK_SECONDS, stuck=True)
    return _rows(ours, ours_rss, theirs, theirs_rss, beside, held)


def _robotctl(link: shaping.Link, seconds: float, stuck: bool) -> Any:
    """Run the stream against an appliance on the link; (client result, RSS growth KiB) or,
    with ``stuck``, (client result, peak bytes held for the stuck observer)."""
    root = Path(tempfile.mkdtemp(prefix="robotctl-bench-stream-"))
    app = Appliance(root, gateway={"host": link.ours})
    app.url = "http://%s:%d" % (link.ours, app.port)
    app.start()
    try:
        clients.install_project(app.url, "streambot")
        peak = _PeakRss(app.gateway_pid())
        stuck_client = _stuck_observer(link, app.port, seconds) if stuck else None
        sampler = _HeldSampler(app.url, stuck_client["address"]) if stuck_client else None
        result = _watch(link, app.url, seconds, bare=False)
        growth = peak.stop()
        if sampler is not None:
            return result, sampler.stop()
        return result, growth
    finally:
        app.stop()


def _watch(link: shaping.Link, url: str, seconds: float, bare: bool) -> Dict[str, Any]:
    args = ["ip", "netns", "exec", link.namespace, sys.executable, "-m", "tests.stream_client",
            url, "--seconds", str(seconds), "--call-hz", "20", "--start", json.dumps(START)]
    done = subprocess.run(args + (["--bare"] if bare else ["--stop"]), cwd=str(REPO),
                          env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError("stream client failed: %s" % done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stuck_observer(link: shaping.Link, port: int, seconds: float) -> Dict[str, Any]:
    process = subprocess.Popen(
        ["ip", "netns", "exec", link.namespace, sys.executable, "-m", "tests.rawsocketio",
         link.ours, str(port), str(seconds + 5)], cwd=str(REPO),
        env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return json.loads(process.stdout.readline())


class _PeakRss:
    """The growth of a process's RSS over a run: its peak (sampled every 0.2 s) less the
    start, in KiB."""

    def __init__(self, pid: int):
        self._pid = pid
        self._start = self.peak = rss_kib(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_kib(self._pid))

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak - self._start


class _HeldSampler:
    """Samples, once a second, what the gateway holds for one client (``status``)."""

    def __init__(self, url: str, address: str):
        import socketio
        self._client = socketio.Client(reconnection=False)
        self._client.connect(url, transports=["websocket"], auth={"role": "observer"})
        self._address = address
        self.peak: Dict[str, int] = {"held_bytes": 0, "kernel_bytes": 0}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(1.0):
            data = clients.check(self._client.call("status", {}, timeout=30), "status")
            for entry in data["clients"]:
                if entry["address"] == self._address:
                    for key in self.peak:
                        self.peak[key] = max(self.peak[key], entry[key] or 0)

    def stop(self) -> Dict[str, int]:
        self._done.set()
        self._thread.join()
        self._client.disconnect()
        return self.peak


def _age_at(result: Dict[str, Any], second: float) -> Optional[float]:
    """Age of the newest frame received by ``second`` s after connecting."""
    ages = [age for age, at in zip(result["ages"], result["arrivals"]) if at <= second]
    return ages[-1] if ages else None


def _ms(value: Optional[float]) -> str:
    return "–" if value is None else "%.0f ms" % (value * 1e3)


def _pcts(values: List[float]) -> str:
    if not values:
        return "none"
    stats = percentiles(values)
    return "p50 %s / p99 %s" % (_ms(stats["p50"]), _ms(stats["p99"]))


def _growth(result: Dict[str, Any]) -> str:
    marks = [m for m in (5, 10, 20, 30, 60) if m <= SECONDS]
    return ", ".join("%d s: %s" % (m, _ms(_age_at(result, m))) for m in marks)


def _lost(result: Dict[str, Any]) -> str:
    after = result.get("disconnected_after")
    return "%d" % result["disconnects"] + (" (at %.0f s)" % after if after else "")


def _rows(ours: Dict[str, Any], ours_rss: int, theirs: Dict[str, Any], theirs_rss: int,
          beside: Dict[str, Any], held: Dict[str, int]) -> List[Row]:
    link = "2 MiB/s link, %d s" % SECONDS
    age_p99 = percentiles(ours["ages"])["p99"] if ours["ages"] else float("inf")
    rtt_p99 = percentiles(ours["rtts"])["p99"] if ours["rtts"] else float("inf")
    alone = percentiles(ours["ages"])["p50"] if ours["ages"] else float("inf")
    with_stuck = percentiles(beside["ages"])["p50"] if beside["ages"] else float("inf")
    return [
        Row("frame age on arrival (%s; 100 KB at 30 fps, latest)" % link,
            "%s; %d frames; newest at %s" % (_pcts(ours["ages"]), len(ours["ages"]),
                                             _growth(ours)),
            "%s; %d frames; newest at %s" % (_pcts(theirs["ages"]), len(theirs["ages"]),
                                             _growth(theirs)),
            "robotctl p99 %s" % _ms(age_p99), "p99 ≤ 300 ms", age_p99 <= 0.3,
            {"robotctl": _summary(ours), "bare": _summary(theirs)}),
        Row("process round trip during the stream (20 Hz)",
            "%s; %d calls, %d failed" % (_pcts(ours["rtts"]), len(ours["rtts"]),
                                         len(ours["failed_calls"])),
            "%s; %d calls, %d failed" % (_pcts(theirs["rtts"]), len(theirs["rtts"]),
                                         len(theirs["failed_calls"])),
            "robotctl p99 %s" % _ms(rtt_p99), "p99 ≤ 250 ms", rtt_p99 <= 0.25),
        Row("controller disconnects during the stream", _lost(ours), _lost(theirs),
            "%d" % ours["disconnects"], "0", ours["disconnects"] == 0),
        Row("server RSS growth over the stream (peak less start)",
            "%.1f MiB (gateway)" % (ours_rss / 1024),
            "%.1f MiB (bare server)" % (theirs_rss / 1024), "%.1f MiB" % (ours_rss / 1024),
            "≤ 16 MiB", ours_rss <= 16 * 1024),
        Row("a stuck observer beside the reading controller (%d s)" % STUCK_SECONDS,
            "reader: age %s, %d disconnects; held for the stuck one: peak %.2f MiB "
            "(+ kernel %.0f KiB)" % (_pcts(beside["ages"]), beside["disconnects"],
                                     held["held_bytes"] / MiB, held["kernel_bytes"] / 1024),
            "reader alone: age p50 %s" % _ms(alone),
            "age p50 %.2f× alone" % (with_stuck / alone),
            "0 disconnects, same age; held ≤ budget + 2 MiB",
            beside["disconnects"] == 0 and with_stuck <= 1.5 * alone
            and held["held_bytes"] + held["kernel_bytes"] <= BUDGET + 2 * MiB),
    ]


def _summary(result: Dict[str, Any]) -> Dict[str, Any]:
    return {key: value for key, value in result.items() if key not in ("ages", "arrivals",
                                                                       "seqs", "rtts")}
