"""A real systemd booted in systemd-nspawn, for the system tests.

Facts and flags: ../shared/notes/systemd-in-a-container.md. The host's PID 1 is not
systemd and there is no host D-Bus, so nspawn runs with --register=no --keep-unit from
its own cgroup, commands go in with nsenter, and poweroff is SIGRTMIN+4 to the leader.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TypeVar

T = TypeVar("T")

SUITE = "bookworm"
# Only the host's own apt sources: the rootfs reaches Debian exactly as the host does.
SOURCES = "/etc/apt/sources.list.d/debian.sources"
# Everything the .deb depends on is preinstalled, so installing it needs no network.
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "python3", "procps", "iproute2",
    "python3-socketio", "python3-eventlet", "python3-zmq", "python3-sdnotify",
    "python3-yaml", "python3-watchdog", "python3-websocket", "python3-requests", "openssl",
    # LAN discovery; the daemon is disabled in the image (most containers share the host's
    # network) and started by the tests that give their container a veth of its own.
    "avahi-daemon", "avahi-utils",
    # a project's requirements.txt is installed into its own venv with Debian's pip
    "python3-venv", "python3-pip",
)
DISABLED_UNITS = ("avahi-daemon.service", "avahi-daemon.socket")
CACHE_DIR = Path("/var/tmp")
CGROUP_ROOTS = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))


def missing_prerequisites() -> List[str]:
    """Why this machine cannot boot a container; empty when it can."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not root")
    for tool in ("systemd-nspawn", "mmdebstrap", "nsenter", "dpkg-buildpackage", "lintian"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool} not installed")
    if not Path(SOURCES).is_file():
        reasons.append(f"{SOURCES} missing")
    return reasons


def wait_for(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def rootfs() -> Path:
    """The cached rootfs for PACKAGES, built on first use.

    It is built under a temporary name and renamed when complete, so an interrupted
    build is never used; a lock file serialises concurrent test runs.
    """
    key = hashlib.sha256("\n".join((SUITE,) + tuple(sorted(PACKAGES)) + DISABLED_UNITS).encode()
                         ).hexdigest()
    final = CACHE_DIR / f"robotctl-rootfs-{key[:16]}"
    with open(f"{final}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.is_dir():
            _build_rootfs(final)
    return final


def _build_rootfs(final: Path) -> None:
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(PACKAGES)}",
         # Keep the package lists: apt inside can then resolve the .deb's dependencies.
         "--skip=cleanup/apt/lists",
         "--customize-hook=systemctl --root=\"$1\" disable " + " ".join(DISABLED_UNITS),
         SUITE, str(partial), SOURCES],
        check=True,
    )
    partial.rename(final)


class Container:
    """One booted container; every boot starts pristine (--volatile=overlay)."""

    def __init__(self, name: str, root: Path, hostdir: Path, veth: bool = False) -> None:
        self.name = name
        # A network namespace of its own with one veth link (host0 inside, ve-NAME outside):
        # multicast (mDNS) stays between the two ends.
        self.veth = veth
        self.root = root
        self.hostdir = hostdir  # visible inside as /mnt/host
        self.cgroups = [base / f"robotctl-test-{name}" for base in CGROUP_ROOTS if base.is_dir()]
        self.nspawn: Optional[subprocess.Popen] = None
        self.leader = 0
        self.log = hostdir / f"{name}.console.log"

    def boot(self, timeout: float = 60) -> None:
        for cgroup in self.cgroups:
            cgroup.mkdir(exist_ok=True)
        with open(self.log, "wb") as console:
            self.nspawn = subprocess.Popen(
                ["systemd-nspawn", "-b", "-D", str(self.root), "-M", self.name,
                 "--register=no", "--keep-unit", "--console=read-only",
                 "--volatile=overlay", f"--bind={self.hostdir}:/mnt/host"]
                + (["--network-veth"] if self.veth else []),
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                preexec_fn=self._enter_cgroups,
            )
        self.leader = wait_for(self._find_leader, timeout, "the container's systemd")
        wait_for(lambda: self._exists("/run/systemd/private"), timeout, "/run/systemd/private")
        state = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                         timeout=timeout).stdout.strip()
        if state not in ("running", "degraded"):
            raise RuntimeError(f"container booted into state {state!r}")

    def _enter_cgroups(self) -> None:
        # Runs in the child before exec: nspawn's /payload and /supervisor then land
        # under our own cgroup, not at the top of the host's trees.
        for cgroup in self.cgroups:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def _find_leader(self) -> int:
        assert self.nspawn is not None
        if self.nspawn.poll() is not None:
            raise RuntimeError(f"systemd-nspawn exited early, see {self.log}")
        children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
        for pid in children.read_text().split():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            except FileNotFoundError:
                pass
        return 0

    def _exists(self, path: str) -> bool:
        return Path(f"/proc/{self.leader}/root{path}").exists()

    def run(self, cmd: Sequence[str], check: bool = True, timeout: float = 120,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run `cmd` inside the container in all its namespaces; text output."""
        result = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "--", *cmd],
            capture_output=True, text=True, timeout=timeout, input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def sh(self, script: str, check: bool = True, timeout: float = 120) -> str:
        """Run a shell script inside; its stdout."""
        return self.run(["sh", "-ec", script], check=check, timeout=timeout).stdout

    def prop(self, unit: str, name: str) -> str:
        """One `systemctl show` property of `unit`."""
        return self.run(["systemctl", "show", "-P", name, unit]).stdout.strip()

    def journal(self, unit: str, since: str = "") -> str:
        args = ["journalctl", "--no-pager", "-o", "cat", "-u", unit]
        return self.run(args + ([f"--since={since}"] if since else [])).stdout

    def read(self, path: str) -> str:
        return (Path(f"/proc/{self.leader}/root") / path.lstrip("/")).read_text()

    def write(self, path: str, text: str) -> None:
        (Path(f"/proc/{self.leader}/root") / path.lstrip("/")).write_text(text)

    def shutdown(self, timeout: float = 30) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader:
                os.kill(self.leader, signal.SIGRTMIN + 4)  # what `systemctl poweroff` sends
            try:
                self.nspawn.wait(timeout)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        for cgroup in self.cgroups:
            _remove_cgroup(cgroup)


def _remove_cgroup(cgroup: Path) -> None:
    """rmdir a cgroup tree bottom-up (cgroupfs directories only rmdir when empty)."""
    if not cgroup.is_dir():
        return
    for path in sorted(cgroup.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            path.rmdir()
    cgroup.rmdir()
