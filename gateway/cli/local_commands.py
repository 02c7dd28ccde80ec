"""Subcommands that never connect to an appliance: ``config`` (this machine's effective
configuration) and ``discover`` (appliances on the LAN, from Avahi)."""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from typing import Any, Dict, List

from gateway.cli import trust
from gateway.cli.errors import APP_ERROR, CONNECT, CliError
from gateway.cli.output import Output
from gateway.avahi_advert import SERVICE_TYPE
from gateway.cli.settings import Settings, config_path
from shared import config as config_module


def config(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    path = config_path(args.config)
    try:
        loaded = config_module.load(path)
    except config_module.ConfigError as e:
        raise CliError(APP_ERROR, "%s (the units would not start: exit status 78)" % e) from None
    values = {key: {"value": value, "source": source}
              for key, (value, source) in loaded.sources().items()}
    output.result({"path": str(loaded.path), "values": values},
                  lambda data: _config_table(data["path"], data["values"]))
    return 0


def _config_table(path: str, values: Dict[str, Dict[str, Any]]) -> str:
    width = max(len(key) for key in values)
    lines = ["# %s; \"default\" = not set in the file" % path]
    for key, entry in values.items():
        lines.append("%-*s  %-8s %s" % (width, key, entry["source"],
                                       output_value(entry["value"])))
    return "\n".join(lines)


def output_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[%s]" % ", ".join(value)
    return str(value)


# -- discover ----------------------------------------------------------------------------

def discover(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    browse = shutil.which("avahi-browse")
    if browse is None:
        raise CliError(CONNECT, "discover reads the LAN's mDNS through Avahi, and avahi-browse "
                       "is not installed: sudo apt install avahi-utils (avahi-daemon must run)")
    try:
        result = subprocess.run([browse, "-rtp", SERVICE_TYPE], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True,
                                timeout=settings.timeout)
    except subprocess.TimeoutExpired:
        raise CliError(CONNECT, "avahi-browse gave no answer within %g s" % settings.timeout) from None
    if result.returncode != 0:
        raise CliError(CONNECT, "avahi-browse failed: %s (is avahi-daemon running?)"
                       % result.stderr.strip())
    found = parse_avahi(result.stdout)
    output.result(found, _discover_table)
    return 0


def parse_avahi(text: str) -> List[Dict[str, Any]]:
    """The resolved (``=``) lines of ``avahi-browse -rtp``, one entry per name and address."""
    found: Dict[Any, Dict[str, Any]] = {}
    for line in text.splitlines():
        fields = line.split(";")
        if len(fields) < 10 or fields[0] != "=":
            continue
        txt = dict(item.split("=", 1) for item in re.findall(r'"((?:[^"\\]|\\.)*)"', fields[9])
                   if "=" in item)
        url, fingerprint = trust.discovered(fields[7], int(fields[8]), txt)
        entry = {"name": _unescape(fields[3]), "host": fields[6], "address": fields[7],
                 "port": int(fields[8]), "version": txt.get("version"),
                 "token_needed": txt.get("auth") == "token", "url": url,
                 "tls": fingerprint is not None or url.startswith("https:"),
                 "fingerprint": fingerprint}
        found.setdefault((entry["name"], entry["address"], entry["port"]), entry)
    return sorted(found.values(), key=lambda e: (e["name"], e["address"]))


def _unescape(text: str) -> str:
    """avahi-browse -p writes special characters as \\DDD (decimal)."""
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), text)


def _discover_table(found: List[Dict[str, Any]]) -> str:
    if not found:
        return "no robotctl appliance found on the LAN"
    lines = []
    for entry in found:
        lines.append("%s  %s  version %s  %s  (%s)" % (
            entry["name"], entry["url"], entry["version"] or "?",
            "token needed" if entry["token_needed"] else "no token", entry["host"]))
        if entry["fingerprint"]:
            # What to pass so the CLI pins the advertised certificate instead of asking.
            lines.append("    robotctl --url %s --fingerprint %s ..."
                         % (entry["url"], entry["fingerprint"]))
    return "\n".join(lines)
