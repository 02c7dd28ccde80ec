"""The Avahi service file that lets frontends discover the robot, written from the config.

``tls=1`` and ``fp=<sha256 hex>`` tell a client to connect with https:// and which
certificate to expect. The package ships the file (from debian/robotctl.avahi.in); switching
TLS rewrites it here, and avahi-daemon reloads a changed service file by itself.
"""
from __future__ import annotations

import os
from typing import List
from xml.sax.saxutils import escape

import shared
from gateway.cli import certificate
from shared.config import Config

SERVICE_FILE = "/etc/avahi/services/robotctl.service"


def txt_records(config: Config) -> List[str]:
    records = ["version=%s" % shared.__version__]
    gateway = config.gateway
    if gateway.auth_token_file is not None:
        records.append("auth=token")
    if gateway.tls_cert_file is not None:
        records += ["tls=1", "fp=%s" % certificate.fingerprint(gateway.tls_cert_file)]
    return records


def service_xml(config: Config) -> str:
    txt = "".join("    <txt-record>%s</txt-record>\n" % escape(r) for r in txt_records(config))
    return ("<?xml version=\"1.0\" standalone='no'?>\n"
            "<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n"
            "<!-- Written by robotctl from /etc/robotctl/robotctl.yaml. -->\n"
            "<service-group>\n"
            "  <name replace-wildcards=\"yes\">robotctl on %%h</name>\n"
            "  <service>\n"
            "    <type>_robotctl._tcp</type>\n"
            "    <port>%d</port>\n%s"
            "  </service>\n"
            "</service-group>\n" % (config.gateway.port, txt))


def write_service_file(config: Config, path: str = SERVICE_FILE) -> bool:
    """Rewrite the package's service file, if it is there; True if written."""
    if not os.path.exists(path):
        return False
    tmp = path + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(service_xml(config))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True
