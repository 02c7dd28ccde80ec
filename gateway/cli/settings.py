"""Where to connect and with what token: options, then the environment, then the robot's files.

The URL comes from ``--url``, else ``$ROBOTCTL_URL``, else this machine's own gateway as its
configuration sets it (port; https with its own certificate when TLS is on), else
DEFAULT_URL.

The token comes from ``--token``, else ``$ROBOTCTL_TOKEN``, else the robot's token file when
it is readable, else none. The token file is found as the gateway finds it: the
configuration's ``gateway.auth_token_file`` (``--config``, ``$ROBOTCTL_CONFIG``, or
/etc/robotctl/robotctl.yaml), unless ``$ROBOTCTL_TOKEN_FILE`` names another.
"""
from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from gateway.cli.errors import UNAUTHORIZED, CliError
from gateway.cli.trust import parse_fingerprint
from shared import config

DEFAULT_URL = "http://127.0.0.1:8000"
TOKEN_FILE = "/etc/robotctl/token"
UNITS = ("robotctl-gateway", "robotctl-executor", "robotctl-watch")


@dataclass
class Settings:
    url: str
    token: Optional[str]
    timeout: float
    json: bool
    # Why the token file could not be used, for the hint on an "unauthorized" refusal.
    token_problem: Optional[str] = None
    cafile: Optional[str] = None          # https: verify with this CA file (--cafile)
    fingerprint: Optional[str] = None     # https: the certificate's SHA-256, hex (--fingerprint)


def resolve(args: argparse.Namespace) -> Settings:
    url = args.url or os.environ.get("ROBOTCTL_URL")
    cafile = args.cafile
    if url is None:
        url, own_cafile = local_gateway(args.config)
        cafile = cafile or own_cafile
    token = args.token
    if token is None:
        token = os.environ.get("ROBOTCTL_TOKEN") or None
    problem = None
    if token is None:
        try:
            token = read_token_file(args.config)
        except CliError as e:
            problem = e.message
    fingerprint = parse_fingerprint(args.fingerprint) if args.fingerprint else None
    return Settings(url, token, args.timeout, args.json, problem, cafile, fingerprint)


def config_path(option: Optional[str]) -> str:
    """The configuration file as the gateway finds it: --config, $ROBOTCTL_CONFIG, default."""
    return option or os.environ.get(config.ENV_VAR) or config.DEFAULT_PATH


@functools.lru_cache(maxsize=None)
def _local_config(path: str) -> Optional[config.Config]:
    """This machine's configuration (read once per command), or None without a usable one."""
    if not os.path.exists(path):
        return None
    try:
        return config.load(path)
    except config.ConfigError:
        return None


def local_gateway(config_option: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """The URL of this machine's own gateway, and the CA file to trust it with: with the
    robot's configuration here, its port, and with TLS on, https with its own certificate;
    else DEFAULT_URL."""
    loaded = _local_config(config_path(config_option))
    if loaded is None:
        return DEFAULT_URL, None
    gateway = loaded.gateway
    if gateway.tls_cert_file is not None:
        return "https://localhost:%d" % gateway.port, gateway.tls_cert_file
    return "http://127.0.0.1:%d" % gateway.port, None


def token_file(config_option: Optional[str] = None) -> str:
    """$ROBOTCTL_TOKEN_FILE, else the configuration's gateway.auth_token_file, else the
    package's path (also when the configuration cannot be read)."""
    if os.environ.get("ROBOTCTL_TOKEN_FILE"):
        return os.environ["ROBOTCTL_TOKEN_FILE"]
    loaded = _local_config(config_path(config_option))
    if loaded is None:
        return TOKEN_FILE
    return loaded.gateway.auth_token_file or TOKEN_FILE


def read_token_file(config_option: Optional[str] = None) -> Optional[str]:
    """The robot's token; None when this machine has no token file; CliError when unreadable."""
    path = token_file(config_option)
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
