"""Where to connect and with what token: options, then the environment, then the robot's files.

The token comes from ``--token``, else ``$ROBOTCTL_TOKEN``, else the robot's token file
(``/etc/robotctl/token``, or ``$ROBOTCTL_TOKEN_FILE``) when it is readable, else none.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from gateway.cli.errors import UNAUTHORIZED, CliError

DEFAULT_URL = "http://127.0.0.1:8000"
TOKEN_FILE = "/etc/robotctl/token"
UNITS = ("robotctl-gateway", "robotctl-executor", "robotctl-watch")


def token_file() -> str:
    return os.environ.get("ROBOTCTL_TOKEN_FILE") or TOKEN_FILE


@dataclass
class Settings:
    url: str
    token: Optional[str]
    timeout: float
    json: bool
    # Why the token file could not be used, for the hint on an "unauthorized" refusal.
    token_problem: Optional[str] = None


def resolve(url: Optional[str], token: Optional[str], timeout: float, json: bool) -> Settings:
    url = url or os.environ.get("ROBOTCTL_URL") or DEFAULT_URL
    if token is None:
        token = os.environ.get("ROBOTCTL_TOKEN") or None
    problem = None
    if token is None:
        try:
            token = read_token_file()
        except CliError as e:
            problem = e.message
    return Settings(url, token, timeout, json, problem)


def read_token_file() -> Optional[str]:
    """The robot's token; None when this machine has no token file; CliError when unreadable."""
    path = token_file()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CliError(UNAUTHORIZED, "cannot read %s: %s (it is readable by root and the "
                       "robotctl group: try sudo)" % (path, e.strerror)) from None


def is_local_url(url: str) -> bool:
    """Whether ``url`` points at this machine, so local units and journals are the robot's."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    # Binding succeeds only to an address of one of this machine's interfaces.
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


def unit_states(url: str) -> Optional[Dict[str, str]]:
    """``systemctl is-active`` of the robotctl units, or None when they are not on this machine."""
    systemctl = shutil.which("systemctl")
    if systemctl is None or not is_local_url(url):
        return None
    known = _run([systemctl, "show", "--property=LoadState", "--value"] + list(UNITS))
    if known is None or all(state != "loaded" for state in known):
        return None
    # is-active exits non-zero when a unit is not active, but still prints each state.
    states = _run([systemctl, "is-active"] + list(UNITS))
    if states is None or len(states) != len(UNITS):
        return None
    return dict(zip(UNITS, states))


def _run(argv: List[str]) -> Optional[List[str]]:
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]
