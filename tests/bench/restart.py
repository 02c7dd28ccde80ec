"""Executor exit → READY with a large project against a small one.

A clean exit (SIGTERM, as `systemctl restart` and every update do) must not cost more with a
200 MiB project than with a 1 MiB one: the release is trusted by size and mtime. After a
crash (SIGKILL) the release is verified by its hashes; the difference between the two
projects' restarts is the verification, reported in MiB/s.
"""
from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from typing import Any, List, Tuple

from tests.appliance import REPO, b64
from tests.bench import clients
from tests.bench.common import MiB, Row, median, ms

SMALL, LARGE = 1 * MiB, 200 * MiB
CLEAN_RUNS = 5
MARGIN = 0.050
VERIFY_TARGET = 500.0      # MiB/s

MAIN_PY = "class Bench:\n    def echo(self, value=None):\n        return value\n\nbench = Bench()\n"


def _project(size: int) -> bytes:
    """A zip whose data file is ``size`` incompressible bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("main.py", MAIN_PY)
        archive.writestr("data.bin", os.urandom(size))
    return buffer.getvalue()


class _Instances:
    """An observer that records each new executor instance from ``robotctl:server_info``."""

    def __init__(self, url: str):
        self.client = clients.connect(url, role="observer")
        self.current = None
        self.changed = threading.Event()
        self.client.on("robotctl:server_info", self._info)

    def _info(self, info: Any) -> None:
        instance = info.get("executor_instance")
        if instance and instance != self.current:
            self.current = instance
            self.changed.set()

    def restart_time(self, pid: int, signum: int) -> float:
        """Signal the executor; seconds until a new executor has said Hello."""
        self.changed.clear()
        start = time.perf_counter()
        os.kill(pid, signum)
        if not self.changed.wait(60):
            raise RuntimeError("the executor did not come back within 60 s")
        return time.perf_counter() - start


def _install(ctx: Any, blob: bytes) -> None:
    """The chunked upload: one large message would outlast the ping timeout."""
    client = clients.connect(ctx.url)
    try:
        begin = clients.check(client.call("upload_begin", {
            "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
            "name": "restart.zip"}, timeout=30), "upload_begin")
        offset, chunk = begin["offset"], begin["chunk_size"]
        while offset < len(blob):
            ack = client.call("upload_chunk", {"offset": offset,
                                               "data": b64(blob[offset:offset + chunk])}, timeout=60)
            offset = clients.check(ack, "upload_chunk")["received"]
        clients.check(client.call("upload_commit", {}, timeout=300), "upload_commit")
    finally:
        client.disconnect()


def _measure(ctx: Any, size: int) -> Tuple[List[float], float, float]:
    """Clean restarts, one crash restart, and a cold in-process verification (s)."""
    _install(ctx, _project(size))
    watcher = _Instances(ctx.url)
    try:
        time.sleep(0.5)
        watcher.current = None
        clean = []
        for _ in range(CLEAN_RUNS):
            clean.append(watcher.restart_time(ctx.appliance.executor_pid(), signal.SIGTERM))
            time.sleep(0.3)
        crash = watcher.restart_time(ctx.appliance.executor_pid(), signal.SIGKILL)
    finally:
        watcher.client.disconnect()
    return clean, crash, _verify_seconds(ctx)


def _verify_seconds(ctx: Any) -> float:
    """verify_release of the current release in a fresh interpreter, as a start does."""
    code = ("import sys, time; from pathlib import Path;"
            "from executor.release_manifest import verify_release;"
            "p = Path(sys.argv[1]).resolve(); t = time.perf_counter();"
            "assert verify_release(p) is None; print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(ctx.appliance.projects / "current")],
                         cwd=str(REPO), env=dict(os.environ, PYTHONPATH=str(REPO)),
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return float(out.split()[-1])


def run(ctx: Any) -> List[Row]:
    small_clean, small_crash, small_verify = _measure(ctx, SMALL)
    large_clean, large_crash, large_verify = _measure(ctx, LARGE)
    clients.install_project(ctx.url)
    extra = median(large_clean) - median(small_clean)
    crash_extra = large_crash - small_crash
    mib = (LARGE - SMALL) / MiB
    via_restart = mib / crash_extra if crash_extra > 0 else float("inf")
    direct = (LARGE / MiB) / large_verify
    return [
        Row("executor exit → READY after a clean exit (SIGTERM), 200 MiB project",
            "%s (median of %d)" % (ms(median(large_clean)), CLEAN_RUNS),
            "%s with a 1 MiB project" % ms(median(small_clean)),
            "+%s" % ms(extra), "≤ +50 ms", extra <= MARGIN,
            {"large": large_clean, "small": small_clean}),
        Row("executor exit → READY after a crash (SIGKILL): the release is verified",
            "%s with 200 MiB; verify_release alone %s = %.0f MiB/s"
            % (ms(large_crash), ms(large_verify), direct),
            "%s with 1 MiB (verify %s)" % (ms(small_crash), ms(small_verify)),
            "verification %.0f MiB/s (from the restarts: %.0f MiB/s)" % (direct, via_restart),
            "≥ 500 MiB/s", min(direct, via_restart) >= VERIFY_TARGET,
            {"large": large_crash, "small": small_crash, "verify_large": large_verify,
             "verify_small": small_verify}),
    ]
