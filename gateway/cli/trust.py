"""Which certificate the CLI trusts for an https:// robot: pinned on first use, like ssh.

- ``--cafile FILE``: ordinary verification against that CA file (host name checked).
- ``--fingerprint FP``: the robot's certificate must have this SHA-256 fingerprint.
- else ``~/.config/robotctl/known_robots`` (one ``host:port sha256-hex`` per line): a known
  robot must present the recorded certificate; a changed one is refused with the line to
  remove. An unknown robot is trusted after a yes on a terminal, and recorded; without a
  terminal it is refused with its fingerprint and the option that trusts it.

The certificate is read once with an unverified handshake, checked, and then becomes the
only trust anchor of the real connection (a CA file of just that certificate), so the
connection that carries the token is verified against the pinned certificate itself.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import socket
import ssl
import sys
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import urlsplit

from gateway.cli.errors import CONNECT, USAGE, CliError

Ask = Callable[[str], bool]


def known_robots_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "robotctl", "known_robots")


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as lower-case hex, from hex (colons optional, any case) or
    ssh's ``SHA256:<base64>``; CliError(USAGE) otherwise."""
    text = text.strip()
    if text.upper().startswith("SHA256:"):
        try:
            raw = base64.b64decode(text[7:] + "=" * (-len(text[7:]) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 32:
            return raw.hex()
    else:
        hexed = text.replace(":", "").lower()
        if len(hexed) == 64 and all(c in "0123456789abcdef" for c in hexed):
            return hexed
    raise CliError(USAGE, "--fingerprint %r: give the SHA-256 as 64 hex digits (colons "
                   "allowed) or as SHA256:<base64>" % text)


def show(fingerprint: str) -> str:
    """``SHA256:<base64> (AB:CD:…)``: ssh's form and openssl's."""
    raw = bytes.fromhex(fingerprint)
    colons = ":".join("%02X" % b for b in raw)
    return "SHA256:%s (%s)" % (base64.b64encode(raw).decode().rstrip("="), colons)


def discovered(host: str, port: int, txt: Dict[str, str]) -> Tuple[str, Optional[str]]:
    """The URL and the fingerprint to pin for a robot Avahi advertised with the TXT records
    ``txt`` (``tls=1`` and ``fp=<sha256 hex>`` when its TLS is on): what ``robotctl
    discover`` connects with, as ``Settings(url=..., fingerprint=...)``."""
    name = "[%s]" % host if ":" in host else host
    if txt.get("tls") != "1":
        return "http://%s:%d" % (name, port), None
    fingerprint = parse_fingerprint(txt["fp"]) if txt.get("fp") else None
    return "https://%s:%d" % (name, port), fingerprint


def robot_key(url: str) -> str:
    parts = urlsplit(url)
    return "%s:%d" % (parts.hostname or "", parts.port or 443)


def fetch_certificate(url: str, timeout: float) -> bytes:
    """The DER certificate the robot at ``url`` presents (not verified: it is checked next)."""
    parts = urlsplit(url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout) as raw:
            with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
                der = tls.getpeercert(binary_form=True)
        if der is None:     # a peer without a certificate (anonymous cipher suites)
            raise CliError(CONNECT, "%s presented no certificate over TLS" % url)
        return der
    except (OSError, ssl.SSLError) as e:
        raise CliError(CONNECT, "cannot connect to %s over TLS: %s" % (url, e)) from None


def check(url: str, der: bytes, pinned: Optional[str], ask: Optional[Ask]) -> None:
    """Raise CliError unless the certificate ``der`` is the one to trust for ``url``."""
    seen = hashlib.sha256(der).hexdigest()
    if pinned is not None:
        if seen != pinned:
            raise CliError(CONNECT, "%s presented the certificate %s, not the --fingerprint "
                           "given (%s): refusing to connect" % (url, show(seen), show(pinned)))
        return
    key = robot_key(url)
    path = known_robots_path()
    line, recorded = lookup(path, key)
    if recorded == seen:
        return
    if recorded is not None:
        raise CliError(CONNECT, "WARNING: THE CERTIFICATE OF ROBOT %s HAS CHANGED!\n"
                       "Someone could be intercepting the connection, or the robot got a new "
                       "certificate.\nrecorded:  %s\npresented: %s\nIf the change is expected "
                       "(check with `sudo robotctl tls show` on the robot), remove line %d of "
                       "%s and connect again." % (key, show(recorded), show(seen), line, path))
    if ask is None:
        raise CliError(CONNECT, "%s presented an unknown certificate, fingerprint %s; to "
                       "trust it, check it with `sudo robotctl tls show` on the robot and "
                       "pass --fingerprint %s (or run the command on a terminal, which asks "
                       "and records it)" % (key, show(seen), seen))
    if not ask("The certificate of robot %s is not known yet.\nIts fingerprint is %s\n"
               "Compare it with `sudo robotctl tls show` on the robot.\n"
               "Trust it and connect (yes/no)? " % (key, show(seen))):
        raise CliError(CONNECT, "not trusting the certificate of %s" % key)
    record(path, key, seen)
    sys.stderr.write("robotctl: trusting %s from now on (recorded in %s)\n" % (key, path))


def lookup(path: str, key: str) -> Tuple[int, Optional[str]]:
    """The line number and fingerprint recorded for ``key`` in ``path``, or (0, None)."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if len(fields) >= 2 and fields[0] == key:
                    return number, fields[1].lower()
    except FileNotFoundError:
        pass
    return 0, None


def record(path: str, key: str, fingerprint: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write("%s %s\n" % (key, fingerprint))


def terminal_ask() -> Optional[Ask]:
    """A yes/no question on the terminal, or None when there is no terminal to ask on."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(question: str) -> bool:
        while True:
            sys.stderr.write(question)
            sys.stderr.flush()
            answer = sys.stdin.readline().strip().lower()
            if answer in ("yes", "no", ""):
                return answer == "yes"
            question = "Please type yes or no: "
    return ask


def pin_session(session: Any, der: bytes) -> None:
    """Make every https connection of the requests ``session`` trust exactly the certificate
    ``der``, like ssh trusts a host key: its SHA-256 must match, and neither a CA nor the host
    name is checked, so a pinned robot is reached under any address (a new DHCP lease, a VPN,
    the address ``discover`` lists)."""
    from requests.adapters import HTTPAdapter
    import urllib3

    digest = hashlib.sha256(der).hexdigest()

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["assert_fingerprint"] = digest     # urllib3 checks it after the handshake
            super().init_poolmanager(*args, **kwargs)

    session.verify = False          # no CA and no host name: the fingerprint is the check
    session.mount("https://", PinnedAdapter())
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
