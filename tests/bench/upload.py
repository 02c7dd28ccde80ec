"""Upload of an incompressible project (10 MiB and 50 MiB zips) timed to the ack, which the
gateway sends once the new executor is up; next to the same bytes through a stock bare
python-socketio server."""
from __future__ import annotations

import base64
import io
import os
import time
import zipfile
from typing import Any, List

from tests.appliance import FIXTURES
from tests.bench import clients
from tests.bench.common import MiB, Child, Row, median

SIZES = (10, 50)
TARGET = 20.0     # MiB/s of base64


def incompressible_project(size_mib: int) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.write(str(FIXTURES / clients.PROJECT / "main.py"), "main.py")
        archive.writestr("data/noise.bin", os.urandom(size_mib * MiB - 1024))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _upload(url: str, data: str) -> float:
    client = clients.connect(url)
    try:
        start = time.perf_counter()
        clients.check(client.call("update", {"data": data}, timeout=300), "upload")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        time.sleep(0.3)


def run(ctx: Any) -> List[Row]:
    rows = []
    with Child("upload") as stock:
        for size in SIZES:
            data = incompressible_project(size)
            mib = len(data) / MiB
            ours: List[float] = []
            bare: List[float] = []
            stock_runs = 1 if size >= 50 else 2
            for i in range(max(ctx.upload_rounds, stock_runs)):
                if i < stock_runs:
                    bare.append(_upload(stock.url, data))
                if i < ctx.upload_rounds:
                    ours.append(_upload(ctx.url, data))
            rate, bare_rate = mib / median(ours), mib / median(bare)
            rows.append(Row(
                "upload %d MiB zip (%.1f MiB base64) → ack from the new executor" % (size, mib),
                "%.2f s = %.1f MiB/s" % (median(ours), rate),
                "%.2f s = %.1f MiB/s (stock server, ack on receipt)" % (median(bare), bare_rate),
                "%.1f× the stock server" % (rate / bare_rate),
                "≥ %g MiB/s of base64" % TARGET, rate >= TARGET,
                {"robotctl": ours, "stock": bare, "base64_mib": mib}))
            del data
    return rows
