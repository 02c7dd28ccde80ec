"""Commands run on the robot itself, as root: ``robotctl tls ...`` and ``token --rotate``.

They change files the gateway reads: the configuration (two keys, edited in place so its
comments stay), the certificate and key, the token, and the Avahi service file.
"""
from __future__ import annotations

import argparse
import grp
import os
import re
import secrets
import shutil
import subprocess
from typing import Dict, Optional, Tuple

from gateway import avahi_advert
from gateway.cli import certificate, trust
from gateway.cli.errors import APP_ERROR, CliError
from gateway.cli.output import Output
from gateway.cli.settings import Settings, config_path
from shared import config

GROUP = "robotctl"          # may read the key and the token
GATEWAY_UNIT = "robotctl-gateway"


def tls(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    path = config_path(args.config)
    gateway = _load(path).gateway
    if args.action == "show":
        if gateway.tls_cert_file is None:
            raise CliError(APP_ERROR, "TLS is off (%s sets no gateway.tls_cert_file): "
                           "`sudo robotctl tls enable` turns it on" % path)
        fingerprint = certificate.fingerprint(gateway.tls_cert_file)
        output.result({"cert_file": gateway.tls_cert_file, "sha256": fingerprint},
                      lambda d: "%s\nSHA-256 %s" % (d["cert_file"], trust.show(d["sha256"])))
        return 0
    try:
        if args.action == "enable":
            cert, key = _certificate(path, args.renew, output)
            _set_gateway_keys(path, {"tls_cert_file": cert, "tls_key_file": key})
        else:
            _set_gateway_keys(path, {"tls_cert_file": None, "tls_key_file": None})
    except OSError as e:
        raise CliError(APP_ERROR, "cannot write %s: %s (run this on the robot with sudo)"
                       % (e.filename or path, e.strerror)) from None
    avahi_advert.refresh(_load(path))
    output.note(_restart_gateway())
    output.result({"tls": args.action == "enable"}, lambda d: "TLS is %s" % (
        "on: clients connect with https:// and wss://" if d["tls"] else "off"))
    return 0


def _load(path: str) -> config.Config:
    try:
        return config.load(path)
    except config.ConfigError as e:
        raise CliError(APP_ERROR, str(e)) from None


def _certificate(config_file: str, renew: bool, output: Output) -> Tuple[str, str]:
    """The robot's certificate and key next to the configuration, made when missing."""
    folder = os.path.join(os.path.dirname(os.path.abspath(config_file)), "tls")
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    if renew or not (os.path.exists(cert) and os.path.exists(key)):
        os.makedirs(folder, mode=0o755, exist_ok=True)
        names, addresses = certificate.host_names(), certificate.host_addresses()
        certificate.make(cert + ".new", key + ".new", names, addresses)
        _give_to_group(key + ".new")
        os.replace(key + ".new", key)
        os.replace(cert + ".new", cert)
        output.note("made a self-signed certificate for %s" % ", ".join(names + addresses))
    output.note("certificate %s, SHA-256 %s" % (cert, trust.show(certificate.fingerprint(cert))))
    return cert, key


def _give_to_group(path: str, like: Optional[str] = None) -> None:
    """Owner, group and mode of ``like``; without it 0640 root:robotctl (as root)."""
    if like is not None and os.path.exists(like):
        st = os.stat(like)
        uid, gid, mode = st.st_uid, st.st_gid, st.st_mode & 0o777
    else:
        uid, gid, mode = 0, _group_id(), 0o640
    if os.geteuid() == 0 and gid != -1:
        os.chown(path, uid, gid)
    os.chmod(path, mode)


def _group_id() -> int:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return -1


def _set_gateway_keys(path: str, values: Dict[str, Optional[str]]) -> None:
    """Set ``gateway.KEY: value`` lines in the YAML file, keeping everything else as it is."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for key, value in values.items():
        text = _with_key(text, key, "%s: %s" % (key, "null" if value is None else value))
    _replace(path, text.encode("utf-8"), like=path)
    config.load(path)     # what was written must still load


def _with_key(text: str, key: str, line: str) -> str:
    """``text`` with the indented ``key:`` line replaced by ``line`` (added under
    ``gateway:`` when missing)."""
    pattern = re.compile(r"^([ \t]+)%s:.*$" % re.escape(key), re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda m: m.group(1) + line, text, count=1)
    section = re.compile(r"^gateway:[ \t]*$", re.MULTILINE)
    if section.search(text):
        return section.sub(lambda m: m.group(0) + "\n  " + line, text, count=1)
    return text.rstrip("\n") + "\ngateway:\n  %s\n" % line


def rotate_token(path: str) -> None:
    """Write a new random 256-bit token to ``path`` (atomically, same owner and mode)."""
    _replace(path, (secrets.token_hex(32) + "\n").encode("ascii"), like=path)


def _replace(path: str, data: bytes, like: str) -> None:
    tmp = path + ".new"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        _give_to_group(tmp, like)
        os.replace(tmp, path)
    except OSError as e:
        raise CliError(APP_ERROR, "cannot write %s: %s (run this on the robot with sudo)"
                       % (path, e.strerror)) from None


def _restart_gateway() -> str:
    systemctl = shutil.which("systemctl")
    if systemctl is not None and subprocess.call(
            [systemctl, "--quiet", "is-enabled", GATEWAY_UNIT], stderr=subprocess.DEVNULL) == 0:
        if subprocess.call([systemctl, "restart", GATEWAY_UNIT]) != 0:
            raise CliError(APP_ERROR, "systemctl restart %s failed: see `journalctl -u %s`"
                           % (GATEWAY_UNIT, GATEWAY_UNIT))
        return "restarted %s" % GATEWAY_UNIT
    return "restart the gateway to apply it (%s is not a unit here)" % GATEWAY_UNIT
