"""`robotctl config`, `robotctl discover` without Avahi, and `robotctl call --hold` (issue 11)."""
from __future__ import annotations

import json
import subprocess
import time

import socketio

from tests.appliance import REPO, wait_for
from tests.integration.cli_helpers import cli_env, command, ok, robotctl
from tests.integration.conftest import call
from tests.integration.conftest import ok as ok_reply

MOVE = ["sport_client", "Move", "vx=0.3", "vy=0", "vyaw=0"]


def test_config_prints_the_effective_values_and_their_source(tmp_path):
    path = tmp_path / "robotctl.yaml"
    path.write_text("gateway:\n  port: 8123\n  cors_allowed_origins: http://ui.example:5173\n")
    shown = json.loads(ok(robotctl("http://unused", "--json", "config", "--config", str(path))))
    assert shown["path"] == str(path)
    values = shown["values"]
    assert values["gateway.port"] == {"value": 8123, "source": "file"}
    assert values["gateway.cors_allowed_origins"] == {"value": ["http://ui.example:5173"],
                                                       "source": "file"}
    assert values["gateway.host"] == {"value": "0.0.0.0", "source": "default"}
    assert values["executor.max_project_size"] == {"value": 524288000, "source": "default"}
    text = ok(robotctl("http://unused", "config", ROBOTCTL_CONFIG=str(path)))
    assert any(line.split() == ["gateway.port", "file", "8123"] for line in text.splitlines()), text
    assert any(line.split() == ["gateway.ping_interval", "default", "4.0"]
               for line in text.splitlines()), text


def test_config_names_a_bad_key(tmp_path):
    path = tmp_path / "robotctl.yaml"
    path.write_text("gateway:\n  prot: 8123\n")
    result = robotctl("http://unused", "config", "--config", str(path))
    assert result.returncode == 1 and "gateway.prot: unknown key" in result.stderr, result.stderr


def test_discover_without_avahi_says_how_to_install_it(tmp_path):
    result = robotctl("http://unused", "discover", PATH=str(tmp_path))
    assert result.returncode == 3, result
    assert "apt install avahi-utils" in result.stderr, result.stderr


def robot_state(appliance) -> dict:
    """GetState as a controller sees it once the CLI has let go."""
    client = socketio.Client(reconnection=False)

    def attempt():
        try:
            client.connect(appliance.url, transports=["websocket"], wait_timeout=30)
        except socketio.exceptions.ConnectionError:
            return None      # the CLI's disconnect is not yet known to the gateway
        return True
    wait_for(attempt, what="control of the robot")
    try:
        return ok_reply(call(client, "sport_client", "GetState"))
    finally:
        client.disconnect()


def test_call_stops_the_motion_when_it_disconnects(appliance):
    ok(robotctl(appliance.url, "call", "sport_client", "StandUp"))
    assert json.loads(ok(robotctl(appliance.url, "--json", "call", *MOVE)))["moving"] is True
    assert robot_state(appliance)["moving"] is False


def test_call_hold_keeps_the_motion_then_stops_it(appliance):
    ok(robotctl(appliance.url, "call", "sport_client", "StandUp"))
    observer = socketio.Client(reconnection=False)
    states = []
    observer.on("robot_state", states.append)
    observer.connect(appliance.url, transports=["websocket"], auth={"role": "observer"},
                     wait_timeout=30)
    try:
        holder = subprocess.Popen(command(appliance.url, ["call", "--hold", "3"] + MOVE),
                                  env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True)
        # Still walking after the reply: the pushes keep coming while the CLI holds on.
        wait_for(lambda: len([s for s in states if s.get("moving")]) >= 10, 30,
                 "10 robot_state pushes while walking")
        assert holder.poll() is None
        started = time.monotonic()
        out, err = holder.communicate(timeout=60)
        assert holder.returncode == 0, err
        assert "holding control for 3 s" in err
    finally:
        observer.disconnect()
    assert time.monotonic() - started < 10
    assert robot_state(appliance)["moving"] is False


def test_the_dev_venv_has_a_robotctl_command(tmp_path):
    """`make venv` installs pyproject.toml's entry point: the command runs this checkout."""
    path = tmp_path / "robotctl.yaml"
    path.write_text("gateway:\n  port: 8124\n")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "robotctl"), "--json", "config",
                             "--config", str(path)], cwd=str(tmp_path), env=cli_env(),
                            stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert json.loads(result.stdout)["values"]["gateway.port"]["value"] == 8124
