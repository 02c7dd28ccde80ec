"""Projects with requirements.txt: an update whose environment is cached against one
without requirements, the first install of three small wheels, the executor's idle RSS
on a venv; and the two ways to reuse an environment (shared, or a hard-link copy)."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from tests.appliance import b64
from tests.bench import clients
from tests.bench.common import Row, median, ms, rss_kib
from tests.wheels import project_zip, wheel

RUNS = 9
CACHED_MARGIN = 0.100
FIRST_INSTALL_LIMIT = 3.0
RSS_MARGIN_MIB = 1.0
PACKAGES = ("alpha", "beta", "gamma")


def _main(tag: str, packages: List[str]) -> str:
    imports = "".join("import %s\n" % p for p in packages)
    return imports + "\n\ndef version():\n    return %r\n" % tag


def _project(tag: str, version: Optional[str]) -> str:
    """New code each time (tag); with three wheels at ``version``, else no requirements."""
    if version is None:
        return b64(project_zip(None, {}, main=_main(tag, [])))
    wheels: Dict[str, bytes] = {}
    for package in PACKAGES:
        wheels.update(wheel(package, version))
    requirements = "".join("%s==%s\n" % (p, version) for p in PACKAGES)
    return b64(project_zip(requirements, wheels, main=_main(tag, list(PACKAGES))))


def _update_to_process(url: str, data: str) -> float:
    client = clients.connect(url)
    try:
        start = time.perf_counter()
        clients.check(client.call("update", {"data": data}, timeout=120), "update")
        clients.check(client.call("process", {"params": {"object": None, "method": "version"}},
                                  timeout=30), "first process")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        time.sleep(0.3)


def _executor_rss_mib(ctx: Any) -> float:
    time.sleep(1.0)       # settle after the restart, as the footprint measure does
    return rss_kib(ctx.pids()["executor"]) / 1024


def _hard_link_copy(source: Path, dest: Path) -> float:
    """What reusing an environment by a hard-link copy would cost, instead of sharing it."""
    start = time.perf_counter()
    for directory, _subdirs, names in os.walk(str(source)):
        target = Path(dest) / os.path.relpath(directory, str(source))
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), str(target / name))
            else:
                os.link(path, str(target / name))
    elapsed = time.perf_counter() - start
    shutil.rmtree(str(dest))
    return elapsed


def run(ctx: Any) -> List[Row]:
    url = ctx.url
    first = [_update_to_process(url, _project("first-%d" % i, "1.%d" % i)) for i in range(RUNS)]
    plain: List[float] = []
    cached: List[float] = []
    rss_plain: List[float] = []
    rss_venv: List[float] = []
    _update_to_process(url, _project("warm-up", "1.0"))   # builds the environment reused below
    for i in range(RUNS):
        plain.append(_update_to_process(url, _project("plain-%d" % i, None)))
        rss_plain.append(_executor_rss_mib(ctx))
        cached.append(_update_to_process(url, _project("cached-%d" % i, "1.0")))
        rss_venv.append(_executor_rss_mib(ctx))
    envs = ctx.appliance.projects / "envs"
    env = sorted(p for p in envs.iterdir() if p.is_dir())[0]
    link_copy = _hard_link_copy(env, envs.parent / "staging" / "hard-link-copy")
    phases = {kind: [float(ms_) for ms_ in re.findall(
        r"environment \w+ %s in (\d+) ms" % kind, ctx.appliance.log)] for kind in ("built", "reused")}
    # Paired: each cached update against the plain one just before it, so a change of the
    # machine's load during the run (it is shared) cancels out.
    extra = median([c - p for c, p in zip(cached, plain)])
    rss_extra = median(rss_venv) - median(rss_plain)
    return [
        Row("UPDATE with a cached environment (3 wheels) → first process",
            "%s (median of %d); install phase %.0f ms; a hard-link copy of the environment "
            "would add %s" % (ms(median(cached)), RUNS, median(phases["reused"]), ms(link_copy)),
            "%s without requirements" % ms(median(plain)),
            "%+.0f ms (median of the paired differences)" % (extra * 1000), "≤ +100 ms",
            extra <= CACHED_MARGIN,
            {"cached": cached, "plain": plain, "hard_link_copy": link_copy,
             "install_phase_ms": phases["reused"]}),
        Row("UPDATE with 3 new small pure-Python wheels (first install) → first process",
            "%s (median of %d); install phase %.0f ms" % (ms(median(first)), RUNS,
                                                          median(phases["built"])),
            "%s without requirements" % ms(median(plain)),
            "%.2f s" % median(first), "≤ 3 s", median(first) <= FIRST_INSTALL_LIMIT,
            {"first": first, "plain": plain, "install_phase_ms": phases["built"]}),
        Row("RSS of the executor, idle, on a project's venv",
            "%.1f MiB" % median(rss_venv), "%.1f MiB without requirements" % median(rss_plain),
            "%+.2f MiB" % rss_extra, "≤ +1 MiB", rss_extra <= RSS_MARGIN_MIB,
            {"venv_mib": rss_venv, "plain_mib": rss_plain}),
    ]
