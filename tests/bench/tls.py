"""TLS costs: ``process`` p50, connect → first call, and the 50 MiB upload, over https://
(a second appliance with a self-signed certificate) next to clear text in the same run.

The client is python-socketio's AsyncClient (aiohttp, one thread) for both: the sync
client's websocket-client reads and writes one TLS connection from two threads and stalls
now and then, which would measure the client, not the gateway."""
from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional

import socketio

from tests.bench import clients, upload
from tests.bench.common import MiB, Row, median, ms, percentiles, us
from tests.integration.tls_support import TOKEN, start_tls_appliance

CALLS = 500
CONNECTS = 5
PAYLOAD = clients.process("echo", value={"x": 1, "name": "Move", "v": [0.1, 0.2, 0.0]})
Connect = Callable[[], Awaitable[Any]]


def _connector(url: str, cafile: Optional[str], auth: Optional[dict]) -> Connect:
    """An async ``connect()`` -> (client, http session) for ``url``."""
    # One context per client, made once, as a real client keeps it.
    context = ssl.create_default_context(cafile=cafile) if cafile else None

    async def connect() -> Any:
        import aiohttp
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)
                                     if context else None)
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        await client.connect(url, transports=["websocket"], auth=auth, wait_timeout=10)
        return client, http
    return connect


async def _close(pair: Any) -> None:
    await pair[0].disconnect()
    await pair[1].close()
    await asyncio.sleep(0.3)      # the appliance admits one controller: let it see this one go


async def _round_trips(connect: Connect) -> List[float]:
    pair = await connect()
    try:
        for _ in range(50):
            await pair[0].call("process", PAYLOAD, timeout=10)
        samples = []
        for _ in range(CALLS):
            t = time.perf_counter()
            clients.check(await pair[0].call("process", PAYLOAD, timeout=10), "process")
            samples.append(time.perf_counter() - t)
        return samples
    finally:
        await _close(pair)


async def _connect_and_call(connect: Connect) -> float:
    start = time.perf_counter()
    pair = await connect()
    clients.check(await pair[0].call("process", PAYLOAD, timeout=10), "process")
    elapsed = time.perf_counter() - start
    await _close(pair)
    return elapsed


async def _upload(connect: Connect, data: str) -> float:
    pair = await connect()
    try:
        start = time.perf_counter()
        clients.check(await pair[0].call("update", {"data": data}, timeout=300), "upload")
        return time.perf_counter() - start
    finally:
        await _close(pair)


def run(ctx: Any) -> List[Row]:
    root = Path(tempfile.mkdtemp(prefix="robotctl-bench-tls-"))
    app = start_tls_appliance(root, executor_start_timeout=30.0)
    try:
        secure = _connector(app.url, app.cafile, {"token": TOKEN})
        clear = _connector(ctx.url, None, None)
        asyncio.run(_upload(secure, clients.project_b64()))
        return [asyncio.run(_round_trip_row(ctx, secure, clear)),
                asyncio.run(_connect_row(secure, clear)),
                asyncio.run(_upload_row(ctx, secure, clear))]
    finally:
        app.stop()
        shutil.rmtree(str(root), ignore_errors=True)


async def _round_trip_row(ctx: Any, secure: Connect, clear: Connect) -> Row:
    over_tls: List[float] = []
    plain: List[float] = []
    for _ in range(ctx.rounds):
        plain.extend(await _round_trips(clear))
        over_tls.extend(await _round_trips(secure))
    a, b = percentiles(over_tls), percentiles(plain)
    ratio = a["p50"] / b["p50"]
    return Row("process round trip over TLS (AsyncClient)",
               "p50 %s / p90 %s" % (us(a["p50"]), us(a["p90"])),
               "clear text p50 %s / p90 %s" % (us(b["p50"]), us(b["p90"])),
               "%.2f× clear text" % ratio, "≤ 1.1×", ratio <= 1.1, {"tls": a, "clear": b})


async def _connect_row(secure: Connect, clear: Connect) -> Row:
    over_tls: List[float] = []
    plain: List[float] = []
    for _ in range(CONNECTS):
        plain.append(await _connect_and_call(clear))
        over_tls.append(await _connect_and_call(secure))
    ratio = median(over_tls) / median(plain)
    return Row("connect → first process over TLS (handshake included)",
               "%s (median of %d)" % (ms(median(over_tls)), CONNECTS),
               "%s clear text" % ms(median(plain)), "%.2f× clear text" % ratio, "≤ 2×",
               ratio <= 2.0, {"tls": over_tls, "clear": plain})


async def _upload_row(ctx: Any, secure: Connect, clear: Connect) -> Row:
    data = upload.incompressible_project(50)
    mib = len(data) / MiB
    over_tls: List[float] = []
    plain: List[float] = []
    for _ in range(ctx.upload_rounds):
        plain.append(await _upload(clear, data))
        over_tls.append(await _upload(secure, data))
    rate, plain_rate = mib / median(over_tls), mib / median(plain)
    return Row("upload 50 MiB zip (%.1f MiB base64) over TLS → ack from the new executor" % mib,
               "%.2f s = %.1f MiB/s" % (median(over_tls), rate),
               "%.2f s = %.1f MiB/s clear text" % (median(plain), plain_rate),
               "%.2f× clear text" % (rate / plain_rate), "≥ %g MiB/s of base64" % upload.TARGET,
               rate >= upload.TARGET, {"tls": over_tls, "clear": plain, "base64_mib": mib})
