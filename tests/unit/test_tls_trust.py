"""Fingerprint forms, the known_robots file, and the Avahi TXT records."""
from __future__ import annotations

import base64
import hashlib

import pytest

from gateway import avahi_advert as avahi
from gateway.cli import trust
from gateway.cli.errors import CliError
from shared.config import load

DER = b"not really a certificate"
HEX = hashlib.sha256(DER).hexdigest()


@pytest.mark.parametrize("given", [
    HEX, HEX.upper(), ":".join(HEX[i:i + 2] for i in range(0, 64, 2)),
    "SHA256:" + base64.b64encode(bytes.fromhex(HEX)).decode().rstrip("="),
    "sha256:" + base64.b64encode(bytes.fromhex(HEX)).decode()])
def test_every_written_form_of_a_fingerprint_parses(given):
    assert trust.parse_fingerprint(given) == HEX


@pytest.mark.parametrize("given", ["", "abc", HEX[:-2], "SHA256:abc", HEX[:-1] + "g"])
def test_a_malformed_fingerprint_is_a_usage_error(given):
    with pytest.raises(CliError) as e:
        trust.parse_fingerprint(given)
    assert e.value.exit_code == 2


def test_known_robots_records_and_refuses_a_change(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    url = "https://robot.local:8000"
    with pytest.raises(CliError, match="--fingerprint %s" % HEX):
        trust.check(url, DER, None, None)
    trust.check(url, DER, None, lambda question: True)
    path = tmp_path / "robotctl" / "known_robots"
    assert path.read_text() == "robot.local:8000 %s\n" % HEX
    trust.check(url, DER, None, None)          # known now: no question
    with pytest.raises(CliError, match="remove line 1 of %s" % path):
        trust.check(url, b"another certificate", None, None)
    with pytest.raises(CliError, match="not the --fingerprint"):
        trust.check(url, b"another certificate", HEX, None)


def test_avahi_txt_records_name_tls_and_the_fingerprint(tmp_path):
    cert = tmp_path / "cert.pem"
    import ssl
    cert.write_text(ssl.DER_cert_to_PEM_cert(DER))
    config_file = tmp_path / "robotctl.yaml"
    config_file.write_text("gateway: {port: 8123, auth_token_file: token}\n")
    assert avahi.txt_records(load(str(config_file)))[1:] == ["auth=token"]
    config_file.write_text("gateway: {port: 8123, tls_cert_file: cert.pem, "
                           "tls_key_file: key.pem}\n")
    config = load(str(config_file))
    assert avahi.txt_records(config)[1:] == ["auth=none", "tls=1", "fp=%s" % HEX]
    assert "<port>8123</port>" in avahi.service_xml(config)
    assert not avahi.refresh(config, str(tmp_path / "absent.service"))


def test_a_discovered_robot_is_reached_over_https_with_its_advertised_fingerprint():
    assert trust.discovered("robot.local", 8000, {"version": "0.1.0", "auth": "token"}) == \
        ("http://robot.local:8000", None)
    assert trust.discovered("fd00::2", 8443, {"tls": "1", "fp": HEX.upper()}) == \
        ("https://[fd00::2]:8443", HEX)
