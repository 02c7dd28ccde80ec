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
import tempfile
from typing import List, Optional
from xml.sax.saxutils import escape

import shared
from gateway.cli.certificate import fingerprint
from shared import config as config_module

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


def write_atomically(path: str, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=".robotctl-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(temp, 0o644)
    os.replace(temp, path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m gateway.avahi_advert", description=__doc__)
    config_module.add_arguments(parser)
    parser.add_argument("--output", default=SERVICE_FILE, help="default %s" % SERVICE_FILE)
    parser.add_argument("--remove", action="store_true", help="stop advertising")
    args = parser.parse_args(argv)
    if args.remove:
        try:
            os.unlink(args.output)
        except FileNotFoundError:
            pass
        return 0
    try:
        config = config_module.load(config_module.path_from_args(args))
    except config_module.ConfigError as e:
        print("configuration error: %s" % e, file=sys.stderr)
        return 78
    write_atomically(args.output, service_xml(config))
    print("advertising %s on port %d" % (SERVICE_TYPE, config.gateway.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
