"""`make test-debian`: the unit and integration suites on Debian bookworm's python3-* packages.

Run with /usr/bin/python3 (the interpreter a robot has), so a use of an API newer than
bookworm's python3-socketio 5.7.2, python3-eventlet 0.33.1 or python3-zmq 24.0.1 fails here
rather than on a robot. `.ci/run` installs the packages.

A machine without them (a contributor's laptop) cannot run this tier: off CI it prints one
line saying what to install and exits 0; under CI=true it fails.
"""
import importlib.util
import os
import subprocess
import sys
from typing import List

EXPECTED = {"socketio": "5.7", "eventlet": "0.33", "zmq": "24."}
# module -> the Debian package that provides it (the tier's part of .ci/run's list)
PACKAGES = {
    "socketio": "python3-socketio", "eventlet": "python3-eventlet", "zmq": "python3-zmq",
    "sdnotify": "python3-sdnotify", "yaml": "python3-yaml", "watchdog": "python3-watchdog",
    "pytest": "python3-pytest", "hypothesis": "python3-hypothesis",
    "websocket": "python3-websocket", "requests": "python3-requests", "aiohttp": "python3-aiohttp",
}


def version(module: str) -> str:
    if module == "socketio":
        from importlib.metadata import PackageNotFoundError, version as dist_version
        try:
            return dist_version("python-socketio")
        except PackageNotFoundError:
            return "?"     # a socketio module that is not python-socketio's
    return __import__(module).__version__


def missing_packages() -> List[str]:
    return [package for module, package in PACKAGES.items()
            if importlib.util.find_spec(module) is None]


def cannot_run(reason: str) -> int:
    """Off CI: skip the tier with ``reason``; under CI=true: fail."""
    if os.environ.get("CI") == "true":
        print("debian tier: FAILED: %s" % reason)
        return 1
    print("debian tier: skipped (CI is not set): %s" % reason)
    return 0


def main() -> int:
    if not sys.executable.startswith("/usr/bin/"):
        print("debian tier: run me with /usr/bin/python3, not %s" % sys.executable)
        return 2
    missing = missing_packages()
    if missing:
        return cannot_run("%s lacks Debian's packages; to run it: sudo apt-get install %s"
                          % (sys.executable, " ".join(missing)))
    for module, prefix in EXPECTED.items():
        found = version(module)
        print("debian tier: %s %s" % (module, found))
        if not found.startswith(prefix):
            return cannot_run("expected %s %s* (Debian bookworm's); this machine has %s"
                              % (module, prefix, found))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + (
        sys.argv[1:] or ["tests/unit", "tests/integration"])
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main())
