"""`make test-debian`: the unit and integration suites on Debian bookworm's python3-* packages.

Run with /usr/bin/python3 (the interpreter a robot has), so a use of an API newer than
bookworm's python3-socketio 5.7.2, python3-eventlet 0.33.1 or python3-zmq 24.0.1 fails here
rather than on a robot. `.ci/run` installs the packages.
"""
import subprocess
import sys

EXPECTED = {"socketio": "5.7", "eventlet": "0.33", "zmq": "24."}


def version(module: str) -> str:
    if module == "socketio":
        from importlib.metadata import version as dist_version
        return dist_version("python-socketio")
    return __import__(module).__version__


def main() -> int:
    if not sys.executable.startswith("/usr/bin/"):
        print("debian tier: run me with /usr/bin/python3, not %s" % sys.executable)
        return 2
    for module, prefix in EXPECTED.items():
        found = version(module)
        print("debian tier: %s %s" % (module, found))
        if not found.startswith(prefix):
            print("debian tier: expected %s %s*, is this bookworm?" % (module, prefix))
            return 2
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + (
        sys.argv[1:] or ["tests/unit", "tests/integration"])
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main())
