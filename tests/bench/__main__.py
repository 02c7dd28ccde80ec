"""``make bench``: robotctl next to the bare stack underneath it, every row in one run.

Starts a real appliance (dev supervisor, gateway, executor; tests/appliance.py) and the bare
servers of baselines.py, runs each measure with its comparison side by side, prints the table
and saves it as JSON and Markdown under bench-results/. Only ratios within one run are
compared; absolute times are medians.

    .venv/bin/python -m tests.bench [--only roundtrip,push] [--rounds N]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Dict, List

from tests.appliance import REPO, Appliance
from tests.bench import clients
from tests.bench.common import Row

# In run order: the footprint first, on a fresh appliance before any user code is imported.
MEASURES = ("footprint", "update", "roundtrip", "breakdown", "concurrency", "throughput", "push",
            "binary", "reconnect", "upload", "tls", "restart", "environments", "shaped_stream")
RESULTS = REPO / "bench-results"


class Context:
    def __init__(self, appliance: Appliance, rounds: int, upload_rounds: int):
        self.appliance = appliance
        self.url = appliance.url
        self.rounds = rounds
        self.upload_rounds = upload_rounds

    def pids(self) -> Dict[str, int]:
        """The supervisor and its children, by the module each runs (``-m gateway`` …)."""
        assert self.appliance.process is not None
        supervisor = self.appliance.process.pid
        pids = {"supervisor": supervisor}
        for task in os.listdir("/proc/%d/task" % supervisor):
            with open("/proc/%d/task/%s/children" % (supervisor, task)) as children:
                for pid in map(int, children.read().split()):
                    with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
                        argv = cmdline.read().split(b"\0")
                    if b"-m" in argv:
                        module = argv[argv.index(b"-m") + 1].decode()
                        pids[module.rpartition(".")[2] if "." in module else module] = pid
        return pids


def versions() -> Dict[str, str]:
    import eventlet
    import zmq
    from importlib.metadata import version
    return {"python": platform.python_version(), "python-socketio": version("python-socketio"),
            "python-engineio": version("python-engineio"), "eventlet": eventlet.__version__,
            "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(), "cpus": str(os.cpu_count()),
            "machine": platform.machine(), "load average": "%.2f %.2f %.2f" % os.getloadavg()}


def markdown(rows: List[Row], info: Dict[str, str], seconds: float) -> str:
    mark = {True: "✅ met", False: "❌ missed", None: "–"}
    lines = ["| measure | robotctl | bare stack, same run | compared | target | |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            row.measure, row.robotctl, row.baseline, row.figure, row.target, mark[row.met]))
    lines.append("")
    lines.append("%s; `make bench` took %.0f s on %s." % (
        ", ".join("%s %s" % item for item in info.items()), seconds, time.strftime("%Y-%m-%d")))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(MEASURES),
                        help="comma-separated measures (%s)" % ", ".join(MEASURES))
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per measure")
    parser.add_argument("--upload-rounds", type=int, default=3)
    args = parser.parse_args()
    selected = [name for name in MEASURES if name in args.only.split(",")]
    warnings.simplefilter("ignore")
    # Every appliance of the bench runs as the units run it: without the tests' check of
    # where each gateway callback runs (a greenlet trace around every push).
    os.environ["ROBOTCTL_CHECK_CALLBACKS"] = "0"
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="robotctl-bench-"))
    # max_message_size bounds a chunked upload too (until uploads are bounded by the project
    # limits): the restart measure installs a 200 MiB project.
    appliance = Appliance(root, gateway={"executor_start_timeout": 30.0,
                                         "max_message_size": 400 * 1024 * 1024})
    rows: List[Row] = []
    failures = 0
    try:
        appliance.start()
        ctx = Context(appliance, args.rounds, args.upload_rounds)
        installed = False      # the fixture project; the update measure installs it too
        for name in selected:
            if name not in ("footprint", "update") and not installed:
                clients.install_project(ctx.url)
            installed = installed or name != "footprint"
            print("bench: %s ..." % name, file=sys.stderr, flush=True)
            t = time.monotonic()
            try:
                module = importlib.import_module("tests.bench." + name)
                new = module.run(ctx)
            except Exception:
                failures += 1
                traceback.print_exc()
                rows.append(Row(name, "failed (see the log)", "", "", "", False))
                continue
            rows.extend(new)
            print("bench: %s done in %.0f s" % (name, time.monotonic() - t), file=sys.stderr)
    finally:
        appliance.stop()
        shutil.rmtree(str(root), ignore_errors=True)
    seconds = time.monotonic() - started
    info = versions()
    table = markdown(rows, info, seconds)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / ("bench-%s.md" % stamp)).write_text(table, encoding="utf-8")
    (RESULTS / ("bench-%s.json" % stamp)).write_text(json.dumps(
        {"environment": info, "seconds": seconds, "rows": [row.as_dict() for row in rows]},
        indent=1, default=str), encoding="utf-8")
    shutil.copyfile(str(RESULTS / ("bench-%s.md" % stamp)), str(RESULTS / "latest.md"))
    print("saved bench-results/bench-%s.{md,json}" % stamp, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
