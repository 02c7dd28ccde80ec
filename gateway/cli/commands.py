"""The subcommands. Each is ``handler(args, settings, output) -> exit status``.

Commands that only look connect as observers, so they work while a UI holds the robot;
``deploy`` and ``call`` connect as the controller.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from typing import Any, Dict, List

from gateway.cli import render, robot_admin
from gateway.cli.connection import Connection
from gateway.cli.errors import UNAUTHORIZED, USAGE, CliError
from gateway.cli.output import Output
from gateway.cli.progress import Progress
from gateway.cli.settings import Settings, read_token_file, token_file, unit_states
from gateway.cli.upload import Upload
from gateway.cli.zipping import archive
from shared import protocol

NULL_OBJECT = "-"     # `robotctl call - ping` calls the module-level function ping()


def observe(settings: Settings) -> Connection:
    return Connection(settings, protocol.OBSERVER).open()


def control(settings: Settings) -> Connection:
    return Connection(settings, protocol.CONTROLLER).open()


# -- looking ---------------------------------------------------------------------------

def status(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    with observe(settings) as connection:
        data = connection.request(protocol.STATUS)
    units = unit_states(settings.url)
    if units is not None and isinstance(data, dict):
        data = dict(data, units=units)
    output.result(data, lambda d: render.status(d, units))
    return 0


def describe(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    with observe(settings) as connection:
        data = connection.request(protocol.DESCRIBE)
    output.result(data, render.describe)
    return 0


def events(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    wanted = set(args.names)

    def show(name: str, data: Any) -> None:
        if not wanted or name in wanted:
            output.event(name, data)

    return follow(settings, output, show)


def logs(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    journalctl = shutil.which("journalctl")
    if journalctl is not None and unit_states(settings.url) is not None:
        # On the robot the journal has everything, from before this command started too.
        shape = ["-o", "json"] if output.json and not _has_output_option(args.extra) else []
        return subprocess.call([journalctl, "-f", "-u", "robotctl-*"] + shape + args.extra)
    if args.extra:
        output.note("ignoring %s: they are journalctl options, and the robot's journal is not "
                    "on this machine; following live output instead" % " ".join(args.extra))
    return follow(settings, output, lambda name, data: _show_log(output, name, data))


def _has_output_option(extra: List[str]) -> bool:
    return any(arg in ("-o", "--output") or arg.startswith(("-o", "--output=")) for arg in extra)


def _show_log(output: Output, name: str, data: Any) -> None:
    if name == protocol.LOG_DROPPED:
        output.note("%s log lines dropped by the rate limit" % (data or {}).get("count", "?"))
    elif name == protocol.LOG and isinstance(data, dict):
        if output.json:
            output.event(name, data)
        else:
            mark = "" if data.get("stream") == "stdout" else "[%s] " % data.get("stream")
            output.text("%s%s" % (mark, str(data.get("text", "")).rstrip("\n")))


def follow(settings: Settings, output: Output, listener: Any) -> int:
    """Print what ``listener`` makes of every pushed event until Ctrl+C (KeyboardInterrupt)."""
    connection = Connection(settings, protocol.OBSERVER, reconnect=True)
    connection.listen(listener)
    connection.on_lost = lambda: output.note("connection lost; reconnecting")
    connection.on_back = lambda: output.note("reconnected")
    with connection.open():
        while True:
            time.sleep(0.5)   # the client's own threads deliver the events


# -- controlling -----------------------------------------------------------------------

def call(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    params = {"object": None if args.object == NULL_OBJECT else args.object,
              "method": args.method, "args": parse_call_args(args.args)}
    with control(settings) as connection:
        data = connection.request(protocol.PROCESS, {"params": params})
        output.result(data, render.value)
        if args.hold:
            # Disconnecting runs the project's stop hooks (the robot stops): staying
            # connected is what keeps a motion going.
            output.note("holding control for %g s; the robot stops when robotctl disconnects "
                        "(Ctrl+C stops it now)" % args.hold)
            time.sleep(args.hold)
    return 0


def parse_call_args(items: List[str]) -> Any:
    """``[]`` -> None; one JSON object or list -> itself; ``key=value ...`` -> a dict.

    A value is JSON when it parses as JSON (``n=3``, ``on=true``), else the string itself.
    """
    if not items:
        return None
    if len(items) == 1 and items[0].lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(items[0])
        except ValueError as e:
            raise CliError(USAGE, "ARGS-JSON is not valid JSON: %s" % e) from None
        if isinstance(value, (dict, list)):
            return value
    return dict(_keyword(item) for item in items)


def _keyword(item: str) -> Any:
    key, equals, text = item.partition("=")
    if not equals or not key:
        raise CliError(USAGE, "%r: give one JSON object or list, or key=value arguments" % item)
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text


def deploy(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    name, blob = archive(args.path)
    upload = Upload(blob, name, Progress(len(blob), output.stderr))
    connection, installed = upload.run(lambda: control(settings), settings.timeout)
    with connection:
        output.note("installed %s; starting it" % render.project(installed))
        started = connection.request(protocol.START)
    result: Dict[str, Any] = {"upload": upload.summary(), "project": started}
    output.result(result, render.deployed)
    return 0


# -- on the robot ----------------------------------------------------------------------

def token(args: argparse.Namespace, settings: Settings, output: Output) -> int:
    if args.rotate:
        robot_admin.rotate_token(token_file(args.config))
    value = read_token_file(args.config)
    if value is None:
        raise CliError(UNAUTHORIZED, "%s does not exist or is empty: run this on the robot, "
                       "where the robotctl package creates it" % token_file(args.config))
    output.result(value, str)
    return 0
