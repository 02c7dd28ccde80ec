"""The robotctl command and TLS: pinning on first use, --fingerprint, --cafile, a changed
certificate, the token file found through the configuration, `token --rotate`, and
`tls enable|show|disable` on a configuration file."""
from __future__ import annotations

import base64
import os
import pty
import signal
import socket
import ssl
import subprocess
import sys

import yaml

from gateway.cli import certificate
from tests.appliance import REPO
from tests.integration.cli_helpers import cli_env, command, ok, robotctl
from tests.integration.tls_support import TOKEN, make_certificate, start_tls_appliance


def dict_of_sans(cert) -> dict:
    """The certificate's subjectAltName entries by kind ("DNS", "IP Address")."""
    decoded = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]  # the stdlib's PEM reader
    names: dict = {"DNS": set(), "IP Address": set()}
    for kind, value in decoded.get("subjectAltName", ()):
        names.setdefault(kind, set()).add(value)
    return names


def pinned_env(tmp_path, **extra):
    return dict(XDG_CONFIG_HOME=str(tmp_path / "home-config"), ROBOTCTL_TOKEN=TOKEN, **extra)


def on_terminal(url, answer, env, *args):
    """Run robotctl with a pseudo-terminal as stdin and stderr; type ``answer`` when asked."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command(url, list(args)), cwd=str(REPO), env=cli_env(**env),
                               stdin=follower, stderr=follower, stdout=subprocess.PIPE,
                               universal_newlines=True)
    os.close(follower)
    said = b""
    while b"(yes/no)?" not in said:
        said += os.read(leader, 4096)
    os.write(leader, answer.encode() + b"\n")
    stdout = process.communicate(timeout=120)[0]
    try:
        while True:
            said += os.read(leader, 4096)
    except OSError:           # the terminal closed with the process
        pass
    os.close(leader)
    return process.returncode, stdout, said.decode()


def test_unknown_certificate_without_a_terminal_is_refused_with_its_fingerprint(
        tls_appliance, tmp_path):
    result = robotctl(tls_appliance.url, "status", **pinned_env(tmp_path))
    assert result.returncode == 3, result
    assert "unknown certificate" in result.stderr
    assert "--fingerprint %s" % tls_appliance.fingerprint in result.stderr
    assert not (tmp_path / "home-config" / "robotctl" / "known_robots").exists()
    # The fingerprint in any of its written forms lets a script in, without recording it.
    raw = bytes.fromhex(tls_appliance.fingerprint)
    for given in (":".join("%02X" % b for b in raw), tls_appliance.fingerprint.upper(),
                  "SHA256:" + base64.b64encode(raw).decode().rstrip("=")):
        assert ok(robotctl(tls_appliance.url, "--fingerprint", given, "describe",
                           **pinned_env(tmp_path)))
    wrong = robotctl(tls_appliance.url, "--fingerprint", "ab" * 32, "status",
                     **pinned_env(tmp_path))
    assert wrong.returncode == 3 and "not the --fingerprint given" in wrong.stderr


def test_pinned_on_first_use_and_a_changed_certificate_is_refused(tls_appliance, tmp_path):
    env = pinned_env(tmp_path)
    status, _, said = on_terminal(tls_appliance.url, "no", env, "status")
    assert status == 3 and "Trust it and connect" in said
    status, stdout, said = on_terminal(tls_appliance.url, "yes", env, "call", "sport_client",
                                       "StandUp")
    assert status == 0 and "standing" in stdout, said
    known = tmp_path / "home-config" / "robotctl" / "known_robots"
    assert known.read_text() == "localhost:%d %s\n" % (tls_appliance.port,
                                                     tls_appliance.fingerprint)
    assert ok(robotctl(tls_appliance.url, "status", **env))      # known: no question

    # The robot gets a new certificate (same port): refused, naming the line to remove.
    make_certificate(tls_appliance.root)
    os.kill(tls_appliance.gateway_pid(), signal.SIGKILL)
    tls_appliance.wait_log(r"listening on https", count=2)
    result = robotctl(tls_appliance.url, "status", **env)
    assert result.returncode == 3, result
    assert "HAS CHANGED" in result.stderr and "remove line 1 of %s" % known in result.stderr
    assert ok(robotctl(tls_appliance.url, "--cafile", tls_appliance.cafile, "status", **env))


def test_cafile_verifies_without_pinning(tls_appliance, tmp_path):
    assert ok(robotctl(tls_appliance.url, "--cafile", tls_appliance.cafile, "describe",
                       **pinned_env(tmp_path)))
    other = make_certificate(tmp_path)
    result = robotctl(tls_appliance.url, "--cafile", str(other), "status",
                      **pinned_env(tmp_path))
    assert result.returncode == 3 and "cannot connect" in result.stderr


def test_token_file_from_the_configuration_and_rotation(tls_appliance, tmp_path):
    env = dict(pinned_env(tmp_path), ROBOTCTL_TOKEN="", ROBOTCTL_TOKEN_FILE="",
               ROBOTCTL_CONFIG=str(tls_appliance.config_path))
    url_options = ("--cafile", tls_appliance.cafile)
    assert ok(robotctl(tls_appliance.url, *url_options, "status", **env))
    old = (tls_appliance.root / "token").read_text().strip()
    new = ok(robotctl(tls_appliance.url, "token", "--rotate", **env)).strip()
    assert len(new) == 64 and new != old
    assert (tls_appliance.root / "token").read_text().strip() == new
    tls_appliance.wait_log(r"access token changed")
    assert ok(robotctl(tls_appliance.url, *url_options, "call", "sport_client", "GetState",
                       **env))
    refused = robotctl(tls_appliance.url, *url_options, "--token", old, "status", **env)
    assert refused.returncode == 4


def test_tls_enable_show_disable_on_a_configuration(tmp_path):
    config_file = tmp_path / "robotctl.yaml"
    config_file.write_text("# my robot\ngateway:\n  port: 8123  # keep\n")
    env = dict(ROBOTCTL_CONFIG=str(config_file))
    off = robotctl("http://127.0.0.1:1", "tls", "show", **env)
    assert off.returncode == 1 and "TLS is off" in off.stderr
    enabled = robotctl("http://127.0.0.1:1", "tls", "enable", **env)
    assert enabled.returncode == 0 and "TLS is on" in enabled.stdout, enabled
    cert = tmp_path / "tls" / "cert.pem"
    assert yaml.safe_load(config_file.read_text())["gateway"] == {
        "port": 8123, "tls_cert_file": str(cert), "tls_key_file": str(tmp_path / "tls" / "key.pem")}
    assert config_file.read_text().startswith("# my robot\n")
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o640
    # Named for this machine, as clients reach it: host name, <host>.local, its addresses.
    names = dict_of_sans(cert)
    host = socket.gethostname().split(".")[0]
    assert {host, host + ".local", "localhost"} <= names["DNS"], names
    assert "127.0.0.1" in names["IP Address"], names
    shown = ok(robotctl("http://127.0.0.1:1", "--json", "tls", "show", **env))
    assert certificate.fingerprint(str(cert)) in shown
    again = ok(robotctl("http://127.0.0.1:1", "tls", "enable", **env))   # keeps the cert
    assert "TLS is on" in again and certificate.fingerprint(str(cert)) in shown
    ok(robotctl("http://127.0.0.1:1", "tls", "disable", **env))
    assert yaml.safe_load(config_file.read_text())["gateway"]["tls_cert_file"] is None


def test_a_pinned_call_disconnects_at_once_and_leaves_no_trace(tls_appliance, tmp_path):
    # The disconnect right after the reply frees the robot (its stop hooks run) at once, so
    # the next command gets control; nothing is printed on stderr.
    env = pinned_env(tmp_path)
    for _ in range(2):
        result = robotctl(tls_appliance.url, "--fingerprint", tls_appliance.fingerprint,
                          "call", "sport_client", "StandUp", **env)
        assert result.returncode == 0 and result.stderr == "", result


def test_a_pinned_robot_is_reached_under_an_address_its_certificate_does_not_name(tmp_path):
    # The certificate names localhost and 127.0.0.1; the robot is reached at 127.0.0.2
    # (a new DHCP lease, a VPN): the fingerprint is what is checked, as ssh checks a host key.
    app = start_tls_appliance(tmp_path, host="127.0.0.2")
    try:
        url = "https://127.0.0.2:%d" % app.port
        result = robotctl(url, "--fingerprint", app.fingerprint, "status", **pinned_env(tmp_path))
        assert result.returncode == 0, result
        wrong = robotctl(url, "--fingerprint", "ab" * 32, "status", **pinned_env(tmp_path))
        assert wrong.returncode == 3 and "not the --fingerprint given" in wrong.stderr
    finally:
        app.stop()


def test_on_the_robot_the_cli_finds_its_tls_gateway_through_the_configuration(tls_appliance):
    # No --url: the configuration gives the port, https and the certificate to trust.
    env = cli_env(ROBOTCTL_CONFIG=str(tls_appliance.config_path))
    del env["ROBOTCTL_TOKEN_FILE"]         # the configuration's token file, as the gateway's
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "--json", "status"],
                            cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result
    # An http:// URL of a TLS port says what to use instead.
    clear = robotctl(tls_appliance.url.replace("https://", "http://"), "status",
                     ROBOTCTL_TOKEN=TOKEN)
    assert clear.returncode == 3 and "this port speaks TLS: use https://" in clear.stderr, clear
