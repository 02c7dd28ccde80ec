"""`robotctl tls enable|show|disable` and `token --rotate` on the installed appliance."""
from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import requests
import socketio

from conftest import Appliance
from container import wait_for


def tls_client(cafile: Path) -> socketio.Client:
    session = requests.Session()
    session.verify = str(cafile)
    session.trust_env = False
    return socketio.Client(reconnection=False, http_session=session)


def call_over_tls(box: Appliance, cafile: Path, token: str) -> dict:
    client = tls_client(cafile)
    client.connect(f"https://127.0.0.1:{box.port}", auth={"token": token},
                   transports=["polling"], wait_timeout=20)   # see tests/integration/test_tls.py
    try:
        return client.call("process", {"params": {"object": "sport_client",
                                                  "method": "GetState"}}, timeout=60)
    finally:
        client.disconnect()


def test_tls_enable_show_disable_and_token_rotation(fresh: Appliance, deb: Path,
                                                    tmp_path: Path) -> None:
    fresh.install(deb)
    pid = fresh.main_pid("robotctl-gateway")
    enabled = fresh.run(["robotctl", "tls", "enable"], timeout=120)
    assert enabled.returncode == 0 and "TLS is on" in enabled.stdout, enabled
    assert "restarted robotctl-gateway" in enabled.stderr
    wait_for(lambda: fresh.main_pid("robotctl-gateway") not in (0, pid), 60, "a new gateway")
    fresh.wait_active()
    assert fresh.sh("stat -c '%a %U:%G' /etc/robotctl/tls/key.pem").strip() == \
        "640 root:robotctl"
    pem = fresh.read("/etc/robotctl/tls/cert.pem")
    cafile = tmp_path / "cert.pem"
    cafile.write_text(pem)
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    shown = fresh.run(["robotctl", "--json", "tls", "show"]).stdout
    assert fingerprint in shown
    avahi = fresh.read("/etc/avahi/services/robotctl.service")
    assert "<txt-record>tls=1</txt-record>" in avahi
    assert "<txt-record>fp=%s</txt-record>" % fingerprint in avahi
    assert "<port>%d</port>" % fresh.port in avahi

    token = fresh.token
    wait_for(lambda: _answers(fresh, cafile, token), 60, "the gateway over TLS")
    # The robot's own CLI verifies the robot's certificate as a CA file.
    status = fresh.run(["robotctl", "--url", f"https://127.0.0.1:{fresh.port}", "--cafile",
                        "/etc/robotctl/tls/cert.pem", "--json", "status"], timeout=60)
    assert status.returncode == 0, status
    plain = requests.get(f"http://127.0.0.1:{fresh.port}/socket.io/?EIO=4&transport=polling",
                         timeout=30)
    assert plain.status_code == 400 and "https://" in plain.text

    gateway_pid = fresh.main_pid("robotctl-gateway")
    new = fresh.run(["robotctl", "token", "--rotate"]).stdout.strip()
    assert new == fresh.token and new != token
    wait_for(lambda: _answers(fresh, cafile, new), 60, "the new token admitted")
    assert not _answers(fresh, cafile, token)
    assert fresh.main_pid("robotctl-gateway") == gateway_pid      # no restart

    disabled = fresh.run(["robotctl", "tls", "disable"], timeout=120)
    assert disabled.returncode == 0 and "TLS is off" in disabled.stdout
    fresh.wait_active()
    assert "tls=1" not in fresh.read("/etc/avahi/services/robotctl.service")
    wait_for(lambda: fresh.run(["robotctl", "--url", f"http://127.0.0.1:{fresh.port}",
                                "status"], check=False, timeout=60).returncode == 0,
             60, "the gateway in clear text")
    journal = fresh.journal("robotctl-gateway")
    assert "refused 127.0.0.1" in journal and ": unauthorized" in journal


def _answers(box: Appliance, cafile: Path, token: str) -> bool:
    try:
        return call_over_tls(box, cafile, token)["status"] == "success"
    except socketio.exceptions.ConnectionError:
        return False
