"""``python3 -m gateway.avahi_advert``: the Avahi service file that advertises this
appliance on the LAN as ``_robotctl._tcp``, written from the configuration, so it always
carries the configured ``gateway.port``, whether a token is needed and, with TLS on,
``tls=1`` and ``fp=<sha256 hex>`` (how to connect, and which certificate to expect).

The robotctl-avahi unit runs it (as root, it writes /etc/avahi/services) each time
robotctl.target starts, and ``--remove`` when it stops; avahi-daemon notices both at once.
``robotctl tls enable|disable`` rewrites it through ``refresh``.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional
from xml.sax.saxutils import escape

import shared
from gateway.cli.certificate import fingerprint
from shared import config as config_module
from shared import startup
from shared.fsutil import write_atomically

SERVICE_FILE = "/etc/avahi/services/robotctl.service"
SERVICE_TYPE = "_robotctl._tcp"

TEMPLATE = """\
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<!-- Written by robotctl-avahi.service from /etc/robotctl/robotctl.yaml at every start of
     robotctl.target; edits here are overwritten. -->
<service-group>
  <name replace-wildcards="yes">robotctl on %%h</name>
  <service>
    <type>%(type)s</type>
    <port>%(port)d</port>
%(txt)s  </service>
</service-group>
"""


def txt_records(config: config_module.Config) -> List[str]:
    gateway = config.gateway
    records = ["version=%s" % shared.__version__,
               "auth=%s" % ("token" if gateway.auth_token_file else "none")]
    if gateway.tls_cert_file is not None:
        records += ["tls=1", "fp=%s" % fingerprint(gateway.tls_cert_file)]
    return records


def service_xml(config: config_module.Config) -> str:
    txt = "".join("    <txt-record>%s</txt-record>\n" % escape(record)
                  for record in txt_records(config))
    return TEMPLATE % {"type": SERVICE_TYPE, "port": config.gateway.port, "txt": txt}


def refresh(config: config_module.Config, path: str = SERVICE_FILE) -> bool:
    """Rewrite the service file if it is there (robotctl-avahi is running); True if so."""
    if not os.path.exists(path):
        return False
    write_atomically(path, service_xml(config))
    return True


def main(argv: Optional[List[str]] = None) -> int:
    args = startup.arguments("python3 -m gateway.avahi_advert", __doc__, argv, _add_options)
    if args.remove:
        try:
            os.unlink(args.output)
        except FileNotFoundError:
            pass
        return 0
    config = startup.load_config(args, lambda problem: print(
        "configuration error: %s" % problem, file=sys.stderr))
    if config is None:
        return startup.EX_CONFIG
    write_atomically(args.output, service_xml(config))
    print("advertising %s on port %d" % (SERVICE_TYPE, config.gateway.port))
    return 0


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default=SERVICE_FILE, help="default %s" % SERVICE_FILE)
    parser.add_argument("--remove", action="store_true", help="stop advertising")


if __name__ == "__main__":
    sys.exit(main())
