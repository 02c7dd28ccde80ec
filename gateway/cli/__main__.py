"""``robotctl``: argument parsing, dispatch to gateway.cli.commands, and exit statuses."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from gateway.cli import commands, local_commands, robot_admin
from gateway.cli.errors import EPILOG, INTERRUPTED, USAGE, CliError
from gateway.cli.output import Output
from gateway.cli.settings import DEFAULT_URL, resolve

DEFAULT_TIMEOUT = 60.0
# Filled in after parsing: the common options' own default is SUPPRESS, so that a value given
# before the subcommand is not overwritten by the subcommand parser's default.
DEFAULTS = {"url": None, "token": None, "json": False, "timeout": DEFAULT_TIMEOUT,
            "config": None, "cafile": None, "fingerprint": None}

DESCRIPTION = """\
Control a robotctl appliance over Socket.IO: deploy a project, call its methods, watch its
events and logs. status, describe, events and logs connect as observers, so they work while
another client controls the robot; deploy and call need control.

environment:
  ROBOTCTL_URL         the appliance's address (default %s)
  ROBOTCTL_TOKEN       the access token (default: the robot's /etc/robotctl/token when readable)
  ROBOTCTL_TOKEN_FILE  read the token from this file instead of the one the configuration names
  ROBOTCTL_CONFIG      the robot's configuration (default /etc/robotctl/robotctl.yaml)

https:// robots are pinned on first use, like ssh: the certificate's fingerprint is shown
and, on a terminal, trusted after a yes and recorded in ~/.config/robotctl/known_robots.
""" % DEFAULT_URL


def common_options() -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand (SUPPRESS keeps an earlier value)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS,
                        help="the appliance's address (env ROBOTCTL_URL; default: this "
                        "robot's own gateway as its configuration sets it, else %s)" % DEFAULT_URL)
    common.add_argument("--token", default=argparse.SUPPRESS,
                        help="access token (env ROBOTCTL_TOKEN; default /etc/robotctl/token)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output: one JSON document per line")
    common.add_argument("--timeout", type=positive, default=argparse.SUPPRESS, metavar="SECONDS",
                        help="how long to wait to connect and for each answer (default %g)"
                        % DEFAULT_TIMEOUT)
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH",
                        help="the robot's configuration, where the token file and TLS are set "
                        "(env ROBOTCTL_CONFIG; default /etc/robotctl/robotctl.yaml)")
    common.add_argument("--cafile", default=argparse.SUPPRESS, metavar="FILE",
                        help="https: verify the robot's certificate with this CA file")
    common.add_argument("--fingerprint", default=argparse.SUPPRESS, metavar="SHA256",
                        help="https: trust the certificate with this SHA-256 fingerprint (hex, "
                        "colons optional, or SHA256:<base64>)")
    return common


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError("%r is not a positive number of seconds" % text)
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robotctl", description=DESCRIPTION, epilog=EPILOG, parents=[common_options()],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    common = common_options()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=[common], help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    add("status", commands.status,
        "the appliance's units, versions, uptimes, project and controller")
    deploy = add("deploy", commands.deploy, "upload a project folder or .zip, then start it")
    deploy.add_argument("path", metavar="PATH", help="a project folder or a .zip file")
    call = add("call", commands.call, "call a method of the project and print what it returns")
    call.add_argument("--hold", type=positive, default=0.0, metavar="SECONDS",
                      help="stay connected this long after the reply, then disconnect; "
                      "without it the disconnect right after the reply runs the project's "
                      "stop hooks at once (a Move stops)")
    call.add_argument("object", metavar="OBJECT", help="a module-level object, or - for a function")
    call.add_argument("method", metavar="METHOD")
    call.add_argument("args", nargs="*", metavar="ARGS-JSON | key=value",
                      help="one JSON object (keywords) or list (positional), or key=value "
                      "pairs whose values are JSON when they parse, else strings")
    events = add("events", commands.events, "print pushed events live until Ctrl+C")
    events.add_argument("names", nargs="*", metavar="NAME", help="only these events")
    add("describe", commands.describe, "the project's objects, methods and functions")
    add("logs", commands.logs, "follow the robot's logs (extra arguments go to journalctl)")
    token = add("token", commands.token,
                "print the robot's access token (needs root or group robotctl)")
    token.add_argument("--rotate", action="store_true",
                       help="write a new token first; the gateway takes it without a restart "
                       "and disconnects the clients of the old one (needs root)")
    tls = add("tls", robot_admin.tls, "TLS on the robot: enable (makes a self-signed "
              "certificate), disable, or show its fingerprint (enable/disable need root)")
    tls.add_argument("action", choices=("enable", "disable", "show"))
    tls.add_argument("--renew", action="store_true",
                     help="enable: make a new certificate even if one exists")
    # --config (a common option) names the file to read.
    add("config", local_commands.config,
        "print this machine's effective configuration and where each value comes from")
    add("discover", local_commands.discover,
        "list the robotctl appliances on the LAN (name, address, port, version, token needed)")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    # Unknown options are journalctl's for `logs` (robotctl logs -n 100), errors elsewhere.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "logs":
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    args.extra = extra
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(build_parser(), argv)
    output = Output(args.json)
    try:
        settings = resolve(args)
        code: int = args.handler(args, settings, output)
        return code
    except CliError as e:
        output.error(e)
        return e.exit_code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:        # the reader went away (robotctl events | head)
        return 0


def run() -> None:
    try:
        status = main()
    except KeyboardInterrupt:      # Ctrl+C during parsing or start-up
        status = INTERRUPTED
    except SystemExit as e:        # argparse: --help (0), usage errors (2)
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else USAGE)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:            # a closed pipe: nothing more to say
            pass
    # python-engineio 4.3 (Debian bookworm) runs its transport threads as non-daemon threads,
    # and one still winding down would keep the finished command alive: leave at once.
    os._exit(status)


if __name__ == "__main__":
    run()
