"""TLS costs: ``process`` p50, connect → first call, and the 50 MiB upload, over https://
(a second appliance with a self-signed certificate) next to clear text in the same run."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List

import socketio

from tests.bench import clients, upload
from tests.bench.common import MiB, Row, median, ms, percentiles, us
from tests.integration.tls_support import TOKEN, start_tls_appliance, tls_client

CALLS = 500
CONNECTS = 5
PAYLOAD = clients.process("echo", value={"x": 1, "name": "Move", "v": [0.1, 0.2, 0.0]})


def _clear(url: str) -> Callable[[], socketio.Client]:
    return lambda: clients.connect(url)


def _tls(app: Any) -> Callable[[], socketio.Client]:
    def connect() -> socketio.Client:
        client = tls_client(app)
        client.connect(app.url, transports=["websocket"], auth={"token": TOKEN},
                       wait_timeout=10)
        return client
    return connect


def _round_trips(connect: Callable[[], socketio.Client]) -> List[float]:
    client = connect()
    try:
        for _ in range(50):
            client.call("process", PAYLOAD, timeout=10)
        samples = []
        for _ in range(CALLS):
            t = time.perf_counter()
            clients.check(client.call("process", PAYLOAD, timeout=10), "process")
            samples.append(time.perf_counter() - t)
        return samples
    finally:
        client.disconnect()
        time.sleep(0.2)


def _connect_and_call(connect: Callable[[], socketio.Client]) -> float:
    start = time.perf_counter()
    client = connect()
    clients.check(client.call("process", PAYLOAD, timeout=10), "process")
    elapsed = time.perf_counter() - start
    client.disconnect()
    time.sleep(0.3)
    return elapsed


def _upload(connect: Callable[[], socketio.Client], data: str) -> float:
    client = connect()
    try:
        start = time.perf_counter()
        clients.check(client.call("update", {"data": data}, timeout=300), "upload")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        time.sleep(0.3)


def run(ctx: Any) -> List[Row]:
    root = Path(tempfile.mkdtemp(prefix="robotctl-bench-tls-"))
    app = start_tls_appliance(root, executor_start_timeout=30.0)
    try:
        secure, clear = _tls(app), _clear(ctx.url)
        _upload(secure, clients.project_b64())
        return [_round_trip_row(ctx, secure, clear), _connect_row(secure, clear),
                _upload_row(ctx, secure)]
    finally:
        app.stop()
        shutil.rmtree(str(root), ignore_errors=True)


def _round_trip_row(ctx: Any, secure: Any, clear: Any) -> Row:
    over_tls: List[float] = []
    plain: List[float] = []
    for _ in range(ctx.rounds):
        plain.extend(_round_trips(clear))
        over_tls.extend(_round_trips(secure))
    a, b = percentiles(over_tls), percentiles(plain)
    ratio = a["p50"] / b["p50"]
    return Row("process round trip over TLS (python sync client)",
               "p50 %s / p90 %s" % (us(a["p50"]), us(a["p90"])),
               "clear text p50 %s / p90 %s" % (us(b["p50"]), us(b["p90"])),
               "%.2f× clear text" % ratio, "≤ 1.1×", ratio <= 1.1, {"tls": a, "clear": b})


def _connect_row(secure: Any, clear: Any) -> Row:
    over_tls: List[float] = []
    plain: List[float] = []
    for _ in range(CONNECTS):
        plain.append(_connect_and_call(clear))
        over_tls.append(_connect_and_call(secure))
    ratio = median(over_tls) / median(plain)
    return Row("connect → first process over TLS (handshake included)",
               "%s (median of %d)" % (ms(median(over_tls)), CONNECTS),
               "%s clear text" % ms(median(plain)), "%.2f× clear text" % ratio, "≤ 2×",
               ratio <= 2.0, {"tls": over_tls, "clear": plain})


def _upload_row(ctx: Any, secure: Any) -> Row:
    data = upload.incompressible_project(50)
    mib = len(data) / MiB
    times = [_upload(secure, data) for _ in range(ctx.upload_rounds)]
    rate = mib / median(times)
    return Row("upload 50 MiB zip (%.1f MiB base64) over TLS → ack from the new executor" % mib,
               "%.2f s = %.1f MiB/s" % (median(times), rate), "– (clear text: the row above)",
               "%.1f MiB/s" % rate, "≥ %g MiB/s of base64" % upload.TARGET,
               rate >= upload.TARGET, {"tls": times, "base64_mib": mib})
