"""Unattended fleet upgrades and LAN discovery (issue 11), on a real systemd.

Upgrades run exactly as an unattended fleet tool would: plain `apt-get install -y`, no
--force-conf* option, no DEBIAN_FRONTEND, and nothing on stdin, so a configuration prompt
would fail the upgrade.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from conftest import REPO, SERVICES, Appliance, boot, build_variant
from container import wait_for

CONFIG = "/etc/robotctl/robotctl.yaml"
# The last release whose /etc/robotctl/robotctl.yaml was a dpkg conffile (0.1.0-1).
CONFFILE_RELEASE = "0840f8e"
CONSOLE_JS = "gateway/console/vendor/socket.io.min.js"


def plain_upgrade(box: Appliance, deb: Path) -> subprocess.CompletedProcess:
    shutil.copy(deb, box.hostdir / deb.name)
    return box.run(["env", "-u", "DEBIAN_FRONTEND", "apt-get", "install", "-y",
                    f"/mnt/host/{deb.name}"], check=False, timeout=300, input="")


def assert_upgraded_quietly(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file" not in output and "robotctl.yaml (Y/I/N/O/D/Z)" not in output, output


def effective(box: Appliance, key: str) -> dict:
    shown = json.loads(box.run(["robotctl", "--json", "config"]).stdout)
    return shown["values"][key]


def build_conffile_release(tmp: Path) -> Path:
    """0.1.0-1 built from git, as it was released."""
    src = tmp / "old" / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", CONFFILE_RELEASE], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    (src / CONSOLE_JS).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / CONSOLE_JS, src / CONSOLE_JS)
    subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tmp / "old" / "robotctl_0.1.0-1_all.deb"


def test_upgrade_never_asks_about_the_configuration(fresh: Appliance, deb: Path,
                                                     tmp_path: Path) -> None:
    changed = build_variant(tmp_path, "conf", edit_default=False, edit_config=True)
    fresh.install(deb)
    assert fresh.sh("dpkg-query -W -f '${Conffiles}' robotctl | grep -c robotctl.yaml || true"
                    ).strip() == "0"
    fresh.sh(f"sed -i 's/^  # ping_interval: 4.0/  ping_interval: 5.0/' {CONFIG}")
    edited = fresh.read(CONFIG)
    assert effective(fresh, "gateway.ping_interval") == {"value": 5.0, "source": "file"}
    assert_upgraded_quietly(plain_upgrade(fresh, changed))
    fresh.wait_active()
    assert fresh.read(CONFIG) == edited
    assert "(changed)" in fresh.read("/usr/share/doc/robotctl/examples/robotctl.yaml")
    assert effective(fresh, "gateway.ping_interval") == {"value": 5.0, "source": "file"}


def test_upgrade_from_the_conffile_release_keeps_the_edit(fresh: Appliance, deb: Path,
                                                           tmp_path: Path) -> None:
    old = build_conffile_release(tmp_path)
    fresh.install(old)
    assert "robotctl.yaml" in fresh.sh("dpkg-query -W -f '${Conffiles}' robotctl")
    fresh.sh(f"sed -i 's/^  ping_interval: 4.0/  ping_interval: 5.0/' {CONFIG}")
    edited = fresh.read(CONFIG)
    assert_upgraded_quietly(plain_upgrade(fresh, deb))
    fresh.wait_active(SERVICES + ("robotctl-avahi",))
    assert fresh.read(CONFIG) == edited
    assert fresh.sh("ls /etc/robotctl").split() == ["robotctl.yaml", "token"]
    assert effective(fresh, "gateway.ping_interval") == {"value": 5.0, "source": "file"}
    # The old conffile advertised 8000 whatever the port; now the configured one.
    assert f"<port>{fresh.port}</port>" in fresh.read("/etc/avahi/services/robotctl.service")


def test_an_unedited_conffile_is_replaced_by_the_short_one(fresh: Appliance, deb: Path,
                                                            tmp_path: Path) -> None:
    old = build_conffile_release(tmp_path)
    fresh.apt_install(old)
    assert_upgraded_quietly(plain_upgrade(fresh, deb))
    assert fresh.read(CONFIG) == fresh.read("/usr/share/robotctl/robotctl.yaml")
    assert fresh.sh("ls /etc/robotctl").split() == ["robotctl.yaml", "token"]


def test_the_dev_supervisor_is_not_shipped(deb: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], check=True, capture_output=True,
                             text=True).stdout
    assert "devsupervisor" not in listing and "notify_listener" not in listing
    assert "./usr/share/doc/robotctl/examples/robotctl.yaml" in listing


def test_avahi_advertises_the_configured_port(deb: Path, tmp_path: Path) -> None:
    box = boot(f"rc-avahi-{os.getpid() % 100000}", tmp_path, veth=True)
    try:
        # The container's own network: one veth link, so mDNS never leaves the machine.
        box.sh("ip link set host0 up && ip addr add 10.77.0.2/24 dev host0")
        box.run(["systemctl", "start", "avahi-daemon"])
        box.install(deb)
        first = box.port
        wait_for(lambda: advertised_ports(box) == {first}, 60, f"port {first} advertised")
        box.set_port(8001)
        box.run(["systemctl", "restart", "robotctl.target"])
        box.wait_active(SERVICES + ("robotctl-avahi",))
        started = time.monotonic()
        wait_for(lambda: advertised_ports(box) == {8001}, 60, "port 8001 advertised")
        print(f"new port advertised after {time.monotonic() - started:.1f} s")
        found = json.loads(box.run(["robotctl", "--json", "discover"]).stdout)
        version = box.sh("dpkg-query -W -f '${source:Upstream-Version}' robotctl").strip()
        # On the LAN's address (and, seen from the robot itself, on loopback too).
        lan = [f for f in found if f["address"] == "10.77.0.2"]
        assert [(f["port"], f["version"], f["token_needed"]) for f in lan] == \
            [(8001, version, True)], found
        assert {f["port"] for f in found} == {8001}
        assert lan[0]["name"].startswith("robotctl on ")
        text = box.run(["robotctl", "discover"]).stdout
        assert "http://10.77.0.2:8001" in text and "token needed" in text, text
    finally:
        box.shutdown()


def advertised_ports(box: Appliance) -> set:
    out = box.run(["avahi-browse", "-rtp", "_robotctl._tcp"], check=False).stdout
    return {int(line.split(";")[8]) for line in out.splitlines()
            if line.startswith("=;") and line.split(";")[2] == "IPv4"}
