"""The robot's self-signed certificate, made with Debian's ``openssl`` command.

Names: the host name, ``<hostname>.local`` (mDNS), ``localhost``, and every address of the
machine's interfaces (read from /proc, link-local IPv6 left out: it needs a zone to be used).
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
from typing import List

from gateway.cli.errors import APP_ERROR, CliError

VALID_DAYS = 3650


def fingerprint(cert_file: str) -> str:
    """The SHA-256 fingerprint of the PEM certificate in ``cert_file``: lower-case hex."""
    with open(cert_file, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def host_names() -> List[str]:
    host = socket.gethostname().split(".")[0]
    return [host, host + ".local", "localhost"]


def host_addresses() -> List[str]:
    """The machine's IPv4 and IPv6 addresses, loopback included."""
    found = set()
    try:
        with open("/proc/net/fib_trie", encoding="ascii") as f:
            lines = f.read().splitlines()
        for previous, line in zip(lines, lines[1:]):
            if "/32 host LOCAL" in line:
                found.add(previous.split()[-1])
    except OSError:
        found.add("127.0.0.1")
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            for line in f:
                address = ipaddress.IPv6Address(int(line.split()[0], 16))
                if not address.is_link_local:
                    found.add(str(address))
    except (OSError, ValueError):
        pass
    return sorted(found, key=lambda a: (":" in a, a))


def make(cert_file: str, key_file: str, names: List[str], addresses: List[str]) -> None:
    """Write a new self-signed certificate and its key (P-256) with ``openssl req``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CliError(APP_ERROR, "the openssl command is missing: apt install openssl")
    sans = ",".join(["DNS:" + n for n in names] + ["IP:" + a for a in addresses])
    old_umask = os.umask(0o077)     # the key is never readable by others, not even briefly
    try:
        result = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-sha256", "-nodes", "-days", str(VALID_DAYS), "-subj", "/CN=%s" % names[0],
             "-addext", "subjectAltName=" + sans, "-keyout", key_file, "-out", cert_file],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    finally:
        os.umask(old_umask)
    if result.returncode != 0:
        raise CliError(APP_ERROR, "openssl could not make the certificate:\n" + result.stdout)
    os.chmod(cert_file, 0o644)
