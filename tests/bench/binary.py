"""Binary frames on loopback: 100 KB frames from ``push_message`` to an AsyncClient, next to a
bare python-socketio server emitting the same frames; and the bytes on the wire per frame,
counted by a TCP proxy between client and server (binary attachments, not base64).

The project pushes the 1000 frames (100 MB) in a tight loop, far faster than any client
reads them. The bare server holds all of them; robotctl holds at most
``gateway.client_buffer_bytes`` per client and drops the oldest beyond it (and the executor
at most ``executor.event_buffer_bytes`` that the gateway has not read). So the throughput
is measured twice, in alternating rounds: on the bench's appliance (the default budgets:
frames are lost, reported) and on a second appliance whose budgets hold the whole burst
(BURST_BUDGET), which compares the same delivery path with the bare server's at equal terms.

Each frame is new memory on both sides (a copy of one random frame), as a camera's frames
are: a server that holds a burst of them touches new pages for every one. The bare server
is also measured sending one bytes object 1000 times, which costs it no memory per frame;
that figure is shown beside the row, not compared. Beside it too: the CPU per frame of the
IPC hop alone (``baselines ipc_hop``: a bare ZeroMQ PUSH -> PULL of the same frames), which
robotctl's path has and the bare server's has not."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from tests.appliance import REPO, Appliance
from tests.bench import clients
from tests.bench.common import MiB, Child, Row, cpu_seconds, median

FRAME = 100 * 1000
COUNT = 1000
ROUNDS = 9            # at least: each round is short, and the machines are noisy
BURST_BUDGET = 128 * MiB   # > COUNT × FRAME


class CountingProxy:
    """Forwards one TCP port to another and counts the bytes sent towards the client."""

    def __init__(self, target_port: int):
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._listener.getsockname()[1]
        self.to_client = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            server = socket.create_connection(self._target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if counted:
                    self.to_client += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()
            source.close()

    def close(self) -> None:
        self._listener.close()


def _receive(url: str, event: str, data: Any, proxy: Any = None,
             server: int = 0, executor: int = 0) -> Dict[str, float]:
    """Ask for COUNT frames; time them from the first to the last and count what arrived;
    ``cpu_us``: the ``server`` process's utime+stime per frame received, ``executor_cpu_us``
    the ``executor``'s."""
    wire_before: List[int] = []
    cpu = cpu_seconds(server) if server else 0.0
    executor_cpu = cpu_seconds(executor) if executor else 0.0
    client_cpu = time.process_time()      # the client runs in this process
    stream = clients.receive_stream(
        url, "frame", event, data, COUNT, 60,
        keep=lambda value: len(value) if isinstance(value, bytes) else -1,
        before=lambda: wire_before.append(proxy.to_client if proxy else 0))
    sizes = stream.values
    if any(size != FRAME for size in sizes):
        raise RuntimeError("frames arrived damaged or not as bytes: %r" % sizes[:5])
    # From the first frame to the last: the stream's rate, not the call's latency.
    elapsed = stream.arrivals[-1] - stream.arrivals[0]
    cpu_us = (cpu_seconds(server) - cpu) / len(sizes) * 1e6 if server else 0.0
    executor_us = (cpu_seconds(executor) - executor_cpu) / len(sizes) * 1e6 if executor else 0.0
    client_us = (time.process_time() - client_cpu) / len(sizes) * 1e6
    return {"mib_per_s": (len(sizes) - 1) * FRAME / MiB / elapsed, "received": len(sizes),
            "cpu_us": cpu_us, "executor_cpu_us": executor_us, "client_cpu_us": client_us,
            "wire_per_frame": (proxy.to_client - wire_before[0]) / len(sizes) if proxy else 0}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _burst_appliance() -> Tuple[Appliance, Path]:
    """A second appliance, the same but for budgets that hold the whole burst."""
    root = Path(tempfile.mkdtemp(prefix="robotctl-bench-burst-"))
    appliance = Appliance(root, gateway={"executor_start_timeout": 30.0,
                                         "client_buffer_bytes": BURST_BUDGET},
                          executor={"event_buffer_bytes": BURST_BUDGET})
    appliance.start()
    clients.install_project(appliance.url)
    return appliance, root


def _ipc_hop() -> Dict[str, float]:
    """CPU per frame of the IPC hop alone: a bare PUSH -> PULL of COUNT frames (baselines)."""
    output = subprocess.run([sys.executable, "-m", "tests.bench.baselines", "ipc_hop", str(COUNT),
                             str(FRAME)], cwd=str(REPO), check=True, capture_output=True,
                            text=True, timeout=120).stdout
    seconds = json.loads(output)
    return {side: value / COUNT * 1e6 for side, value in seconds.items()}


def _rate(rounds: List[Dict[str, float]]) -> Tuple[float, int]:
    """Median MiB/s and the frames lost over the rounds."""
    return (median([r["mib_per_s"] for r in rounds]),
            sum(COUNT - int(r["received"]) for r in rounds))


def run(ctx: Any) -> List[Row]:
    ours: List[Dict[str, float]] = []
    burst: List[Dict[str, float]] = []
    bare: List[Dict[str, float]] = []
    reused: List[Dict[str, float]] = []
    hop: List[Dict[str, float]] = []
    ask: Tuple[str, Any] = ("process", clients.process("frames", count=COUNT, size=FRAME))
    burst_appliance, burst_root = _burst_appliance()
    try:
        with Child("frames") as server:
            plain = ("frames", {"count": COUNT, "size": FRAME})
            for _ in range(max(ctx.rounds, ROUNDS)):
                bare.append(_receive(server.url, *plain, server=server.pids()[0]))
                reused.append(_receive(server.url, "frames", dict(plain[1], reuse=True)))
                ours.append(_receive(ctx.url, *ask))
                burst.append(_receive(burst_appliance.url, *ask,
                                      server=burst_appliance.gateway_pid(),
                                      executor=burst_appliance.executor_pid()))
                hop.append(_ipc_hop())
            bare_proxy = CountingProxy(_port(server.url))
            bare_wire = _receive(bare_proxy.url, *plain, proxy=bare_proxy)["wire_per_frame"]
            bare_proxy.close()
    finally:
        burst_appliance.stop()
        shutil.rmtree(str(burst_root), ignore_errors=True)
    proxy = CountingProxy(_port(ctx.url))
    wire = _receive(proxy.url, *ask, proxy=proxy)["wire_per_frame"]
    proxy.close()
    (rate, lost), (burst_rate, burst_lost) = _rate(ours), _rate(burst)
    bare_rate = median([r["mib_per_s"] for r in bare])
    measure = "loopback: binary frame throughput (%d × %d KB push_message in a tight loop → " \
              "AsyncClient), %s"
    return [
        Row(measure % (COUNT, FRAME // 1000, "client_buffer_bytes and event_buffer_bytes %d MiB "
                       "(hold the burst)"
                       % (BURST_BUDGET // MiB)),
            "%.1f MiB/s; %d frames lost in %d rounds; CPU per frame: gateway %.0f µs + "
            "executor %.0f µs (the client's %.0f µs)"
            % (burst_rate, burst_lost, len(burst), median([r["cpu_us"] for r in burst]),
               median([r["executor_cpu_us"] for r in burst]),
               median([r["client_cpu_us"] for r in burst])),
            "%.1f MiB/s (bare server's binary emit, unbounded queue); its CPU %.0f µs per "
            "frame (the client's %.0f µs; one bytes object sent 1000 times instead: %.1f MiB/s) "
            "· the IPC hop alone "
            "(bare ZeroMQ PUSH → PULL of the same frames): %.0f µs per frame (sender %.0f + "
            "receiver %.0f)"
            % (bare_rate, median([r["cpu_us"] for r in bare]),
               median([r["client_cpu_us"] for r in bare]), median([r["mib_per_s"] for r in reused]),
               median([h["sender"] + h["receiver"] for h in hop]),
               median([h["sender"] for h in hop]), median([h["receiver"] for h in hop])),
            "%.2f× the bare emit" % (burst_rate / bare_rate), "≥ 0.9×",
            burst_rate >= 0.9 * bare_rate,
            {"robotctl": burst, "bare": bare, "reused": reused, "ipc_hop": hop}),
        Row(measure % (COUNT, FRAME // 1000, "default client_buffer_bytes (4 MiB) and "
                       "event_buffer_bytes (16 MiB)"),
            "%.1f MiB/s; %d frames lost in %d rounds (beyond the budget, reported)"
            % (rate, lost, len(ours)),
            "%.1f MiB/s (bare server's binary emit, unbounded queue)" % bare_rate,
            "%.2f× the bare emit" % (rate / bare_rate), "– (the budget bounds the burst)",
            None, {"robotctl": ours, "bare": bare}),
        Row("loopback: bytes on the wire per %d KB frame (counted by a TCP proxy)" % (FRAME // 1000),
            "%.0f B = %.4f× the frame" % (wire, wire / FRAME),
            "%.0f B = %.4f× (bare server); base64 would be 1.33×" % (bare_wire, bare_wire / FRAME),
            "%.4f× the frame" % (wire / FRAME), "≤ 1.01× the frame (binary, not base64)",
            wire <= 1.01 * FRAME, {"robotctl": wire, "bare": bare_wire}),
    ]
