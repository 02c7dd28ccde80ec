"""System tests: the .deb installed on a real systemd booted in systemd-nspawn.

They run when this machine is root and has systemd-nspawn and mmdebstrap; otherwise they
skip with the reason. With CI=true a missing prerequisite is a failure, not a skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from container import Container, missing_prerequisites, rootfs, wait_for
from tests.prerequisites import missing as prerequisite_missing

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("robotctl-gateway", "robotctl-executor", "robotctl-watch")
UNITS = SERVICES + ("robotctl-avahi", "robotctl.target")
TIMINGS: Dict[str, float] = {}


def _timed(label: str, start: float) -> None:
    TIMINGS.setdefault(label, round(time.monotonic() - start, 2))  # the first of each


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        lines = ", ".join(f"{k} {v}s" for k, v in TIMINGS.items())
        terminalreporter.write_line(f"system-test timings: {lines}")


@pytest.fixture(scope="session", autouse=True)
def prerequisites() -> None:
    reasons = missing_prerequisites()
    if not reasons:
        builddeps = subprocess.run(["dpkg-checkbuilddeps"], cwd=REPO, capture_output=True,
                                   text=True)
        if builddeps.returncode != 0:
            reasons.append(builddeps.stderr.strip())
    if reasons:
        message = ("system tests need root, systemd-nspawn, mmdebstrap and Debian build tools: "
                   + "; ".join(reasons) + " (as root: apt-get install systemd-container "
                   "mmdebstrap util-linux debhelper dh-python python3-all lintian devscripts "
                   "fakeroot)")
        prerequisite_missing(message)


# --- the package -------------------------------------------------------------------

def source_files(tree: Path) -> List[str]:
    """The files `make deb` builds from: tracked, plus new files that are not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=tree, check=True, capture_output=True, text=True).stdout
    return [name for name in out.split("\0") if name and (tree / name).exists()]


def package_version(tree: Path) -> str:
    return subprocess.run(["dpkg-parsechangelog", "-S", "Version"], cwd=tree, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="session")
def deb() -> Path:
    """dist/robotctl_<version>_all.deb, rebuilt with `make deb` when missing or stale."""
    path = REPO / "dist" / f"robotctl_{package_version(REPO)}_all.deb"
    newest = max((REPO / name).stat().st_mtime for name in source_files(REPO))
    if not path.exists() or path.stat().st_mtime < newest:
        start = time.monotonic()
        subprocess.run(["make", "-C", str(REPO), "deb"], check=True,
                       stdout=subprocess.DEVNULL)
        _timed("make deb", start)
    return path


def build_variant(tmp: Path, revision: str, edit_default: bool, edit_config: bool = False) -> Path:
    """Build the tree as version <version>+<revision> (an upgrade of dist/'s .deb), in a
    copy; with `edit_default`, the packaged default project changes too, with
    `edit_config` the shipped etc/robotctl.yaml."""
    src = tmp / revision / "src"
    # As `make deb` does: the sources plus the built console client (git-ignored).
    console = "gateway/console/vendor/socket.io.min.js"
    for name in source_files(REPO) + ([console] if (REPO / console).exists() else []):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name, follow_symlinks=False)
    version = f"{package_version(REPO)}+{revision}"
    changelog = src / "debian" / "changelog"
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    entry = (f"robotctl ({version}) bookworm; urgency=medium\n\n  * Test upgrade.\n\n"
             f" -- Test <test@localhost>  {date}\n\n")
    changelog.write_text(entry + changelog.read_text())
    if edit_default:
        main = src / "executor" / "default_project" / "main.py"
        main.write_text(main.read_text() + f"\n# packaged in {version}\n")
    if edit_config:
        shipped = src / "etc" / "robotctl.yaml"
        shipped.write_text(shipped.read_text().replace("  # ping_timeout: 6.0\n",
                                                       "  # ping_timeout: 6.0 (changed)\n"))
    subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tmp / revision / f"robotctl_{version}_all.deb"


# --- the container -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class Appliance(Container):
    """A container with robotctl installed; the gateway listens on `port` on the host."""

    port = 0

    def install(self, deb: Path) -> None:
        """apt-get install `deb`. A first install starts the gateway on a free port, not on
        the packaged 8000 (host networking: it may be taken on the host)."""
        first = not self._exists("/etc/robotctl/robotctl.yaml")
        if first:  # invoke-rc.d's policy: hold the units until the port is set
            self.sh("printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d;"
                    " chmod +x /usr/sbin/policy-rc.d")
        self.apt_install(deb)
        if first:
            self.run(["rm", "/usr/sbin/policy-rc.d"])
            self.use_free_port()

    def apt_install(self, deb: Path) -> None:
        shutil.copy(deb, self.hostdir / deb.name)
        self.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                  "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold",
                  f"/mnt/host/{deb.name}"], timeout=300)

    def use_free_port(self) -> None:
        """Point the gateway at a free host port and (re)start the appliance."""
        self.port = free_port()
        self.set_port(self.port)
        self.run(["systemctl", "reset-failed"])
        self.run(["systemctl", "restart", "robotctl.target"])
        self.wait_active()

    def set_port(self, port: int) -> None:
        """gateway.port in /etc/robotctl/robotctl.yaml, whether the file lists it commented
        out (as shipped since 0.1.0-2) or set (0.1.0-1's file)."""
        self.sh(r"sed -i 's/^\(\s*\)\(# \)\?port:\s*[0-9]\+/\1port: %d/' "
                "/etc/robotctl/robotctl.yaml" % port)

    def wait_active(self, units=SERVICES, timeout: float = 60) -> None:
        def all_active() -> bool:
            return all(self.prop(u, "ActiveState") == "active" for u in units)
        try:
            wait_for(all_active, timeout, f"{', '.join(units)} active")
        except TimeoutError:
            status = self.run(["systemctl", "status", "--no-pager", *units], check=False)
            raise AssertionError(status.stdout) from None

    @property
    def token(self) -> str:
        return self.read("/etc/robotctl/token").strip()

    def main_pid(self, unit: str = "robotctl-executor") -> int:
        return int(self.prop(unit, "MainPID"))


def boot(name: str, hostdir: Path, veth: bool = False) -> Appliance:
    start = time.monotonic()
    root = rootfs()
    _timed("rootfs (cached)" if time.monotonic() - start < 1 else "rootfs build", start)
    box = Appliance(name, root, hostdir, veth)
    start = time.monotonic()
    try:
        box.boot()
    except BaseException:
        box.shutdown()
        raise
    _timed("boot", start)
    return box


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def container(deb: Path, tmp_path_factory) -> Iterator[Appliance]:
    """One booted appliance for the session, robotctl installed and serving on `.port`."""
    box = boot(f"robotctl-{os.getpid()}", tmp_path_factory.mktemp("host"))
    try:
        start = time.monotonic()
        box.install(deb)
        _timed("install .deb", start)
        yield box
    finally:
        box.shutdown()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Appliance]:
    """A container of its own, booted and empty, for tests that install and remove."""
    box = boot(f"robotctl-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}", tmp_path)
    try:
        yield box
    finally:
        box.shutdown()
