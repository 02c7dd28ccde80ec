"""Binary frames on loopback: 100 KB frames from ``push_message`` to an AsyncClient, next to a
bare python-socketio server emitting the same frames; and the bytes on the wire per frame,
counted by a TCP proxy between client and server (binary attachments, not base64)."""
from __future__ import annotations

import socket
import threading
from typing import Any, Dict, List, Tuple

from tests.bench import clients
from tests.bench.common import MiB, Child, Row, median

FRAME = 100 * 1000
COUNT = 1000
ROUNDS = 5            # at least: each round is short, and the machines are noisy


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


def _receive(url: str, event: str, data: Any, proxy: Any = None) -> Dict[str, float]:
    """Ask for COUNT frames; time them from the first to the last and count what arrived."""
    wire_before: List[int] = []
    stream = clients.receive_stream(
        url, "frame", event, data, COUNT, 60,
        keep=lambda value: len(value) if isinstance(value, bytes) else -1,
        before=lambda: wire_before.append(proxy.to_client if proxy else 0))
    sizes = stream.values
    if any(size != FRAME for size in sizes):
        raise RuntimeError("frames arrived damaged or not as bytes: %r" % sizes[:5])
    # From the first frame to the last: the stream's rate, not the call's latency.
    elapsed = stream.arrivals[-1] - stream.arrivals[0]
    return {"mib_per_s": (len(sizes) - 1) * FRAME / MiB / elapsed, "received": len(sizes),
            "wire_per_frame": (proxy.to_client - wire_before[0]) / len(sizes) if proxy else 0}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def run(ctx: Any) -> List[Row]:
    ours: List[Dict[str, float]] = []
    bare: List[Dict[str, float]] = []
    ask: Tuple[str, Any] = ("process", clients.process("frames", count=COUNT, size=FRAME))
    with Child("frames") as server:
        plain = ("frames", {"count": COUNT, "size": FRAME})
        for _ in range(max(ctx.rounds, ROUNDS)):
            bare.append(_receive(server.url, *plain))
            ours.append(_receive(ctx.url, *ask))
        bare_proxy = CountingProxy(_port(server.url))
        bare_wire = _receive(bare_proxy.url, *plain, proxy=bare_proxy)["wire_per_frame"]
        bare_proxy.close()
    proxy = CountingProxy(_port(ctx.url))
    wire = _receive(proxy.url, *ask, proxy=proxy)["wire_per_frame"]
    proxy.close()
    rate = median([r["mib_per_s"] for r in ours])
    bare_rate = median([r["mib_per_s"] for r in bare])
    lost = sum(COUNT - r["received"] for r in ours)
    return [
        Row("loopback: binary frame throughput (%d × %d KB push_message → AsyncClient)"
            % (COUNT, FRAME // 1000),
            "%.1f MiB/s; %d frames lost in %d rounds" % (rate, lost, len(ours)),
            "%.1f MiB/s (bare server's binary emit)" % bare_rate,
            "%.2f× the bare emit" % (rate / bare_rate), "≥ 0.9×",
            rate >= 0.9 * bare_rate, {"robotctl": ours, "bare": bare}),
        Row("loopback: bytes on the wire per %d KB frame (counted by a TCP proxy)" % (FRAME // 1000),
            "%.0f B = %.4f× the frame" % (wire, wire / FRAME),
            "%.0f B = %.4f× (bare server); base64 would be 1.33×" % (bare_wire, bare_wire / FRAME),
            "%.4f× the frame" % (wire / FRAME), "≤ 1.01× the frame (binary, not base64)",
            wire <= 1.01 * FRAME, {"robotctl": wire, "bare": bare_wire}),
    ]
