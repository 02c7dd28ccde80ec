"""A link shaped like slow Wi-Fi: a veth pair into a fresh network namespace, with ``tc``'s
token bucket (tbf, 16 mbit = 2 MiB/s) on both ends. Needs root, ``ip`` and ``tc``.

Our end is 10.200.N.1, the namespace's 10.200.N.2: serve on the first, run the client with
``ip netns exec NAMESPACE ...``. Used by the integration tests and by ``make bench``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import Iterator, NamedTuple

TBF = ["tbf", "rate", "16mbit", "burst", "32kbit", "latency", "400ms"]


class Link(NamedTuple):
    namespace: str
    ours: str          # our address (serve here)
    theirs: str        # the namespace's address


def available() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("ip")) and bool(shutil.which("tc"))


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


@contextlib.contextmanager
def shaped_link(tag: int) -> Iterator[Link]:
    """The link, numbered ``tag`` (0..9999, unique among concurrent users); everything is
    deleted at the end, whatever happened."""
    ns, ours, theirs = "rc-slow-%d" % tag, "rcs%da" % tag, "rcs%db" % tag
    subnet = "10.200.%d" % (tag % 250)
    try:
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", ours, "type", "veth", "peer", "name", theirs)
        run("ip", "link", "set", theirs, "netns", ns)
        run("ip", "addr", "add", subnet + ".1/30", "dev", ours)
        run("ip", "link", "set", ours, "up")
        run("ip", "netns", "exec", ns, "ip", "addr", "add", subnet + ".2/30", "dev", theirs)
        run("ip", "netns", "exec", ns, "ip", "link", "set", theirs, "up")
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        run("tc", "qdisc", "add", "dev", ours, "root", *TBF)
        run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", theirs, "root", *TBF)
        yield Link(ns, subnet + ".1", subnet + ".2")
    finally:
        run("ip", "netns", "del", ns, check=False)        # takes its end of the pair along
        run("ip", "link", "del", ours, check=False)
