"""`robotctl` (python3 -m gateway.cli) run as a subprocess against a real appliance.

Every subcommand that works in dev mode but deploy (in test_cli_deploy.py), both output modes,
the exit statuses, refusals reaching the user, and observers beside a controller.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from typing import Callable, Iterator, List, Optional

import pytest

from gateway.cli import commands
from tests.appliance import FIXTURES, REPO, Appliance, free_port, wait_for
from tests.integration.cli_helpers import cli_env, command, json_of, ok, robotctl, run_until_free
from tests.integration.conftest import upload as raw_update

TOKEN = "s3cret-token-for-tests"


class Follower:
    """A running `robotctl events`/`logs` whose stdout lines are collected as they arrive."""

    def __init__(self, url: str, args: List[str]):
        self.process = subprocess.Popen(command(url, args), cwd=str(REPO), env=cli_env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        universal_newlines=True)
        self.lines: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def matching(self, predicate: Callable[[str], bool]) -> List[str]:
        return [line for line in list(self.lines) if predicate(line)]

    def wait_lines(self, predicate: Callable[[str], bool], count: int = 1,
                   what: str = "lines", timeout: float = 30) -> List[str]:
        def enough() -> Optional[List[str]]:
            assert self.process.poll() is None, self.process.communicate()
            found = self.matching(predicate)
            return found if len(found) >= count else None
        return wait_for(enough, timeout, what)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def follow(appliance) -> Iterator[Callable[..., Follower]]:
    started: List[Follower] = []

    def start(*args: str) -> Follower:
        follower = Follower(appliance.url, list(args))
        started.append(follower)
        return follower

    yield start
    for follower in started:
        follower.kill()


@pytest.fixture
def token_appliance(tmp_path) -> Iterator[Appliance]:
    """An appliance that requires TOKEN; the token file exists before the gateway starts."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    app = Appliance(tmp_path, gateway={"auth_token_file": str(token_file)}).start()
    yield app
    app.stop()


def with_testbot(connect) -> None:
    """Install the testbot project with a raw client, then give control back."""
    client = connect()
    reply = raw_update(client, "testbot")
    assert reply["status"] == "success", reply
    client.disconnect()


# -- help, usage ---------------------------------------------------------------------------

def test_help_documents_the_exit_statuses():
    out = ok(robotctl("http://127.0.0.1:1", "--help"))
    for line in ("0    ok", "1    the appliance answered with an error", "2    usage error",
                 "3    cannot connect", "4    unauthorized", "130  interrupted"):
        assert line in out
    for name in ("status", "deploy", "call", "events", "describe", "logs", "token"):
        assert name in out


@pytest.mark.parametrize("args", [
    ["call", "bot", "add", "not-a-pair"],
    ["call", "bot", "add", "{\"a\": 1"],
    ["call", "bot", "add", "=3"],
    ["--timeout", "-1", "status"],
    ["status", "--bogus"],
    ["frobnicate"],
])
def test_usage_errors_exit_2(args):
    result = robotctl("http://127.0.0.1:1", *args)
    assert result.returncode == 2, result
    assert result.stderr


def test_call_arguments_parse_as_json_or_strings():
    parse = commands.parse_call_args
    assert parse([]) is None
    assert parse(['{"a": 1}']) == {"a": 1}
    assert parse(["[1, \"x\"]"]) == [1, "x"]
    assert parse(["n=3", "on=true", "name=hello", "q=\"3\"", "x=[1]", "e="]) == {
        "n": 3, "on": True, "name": "hello", "q": "3", "x": [1], "e": ""}
    assert parse(["url=http://a=b"]) == {"url": "http://a=b"}

def test_cannot_connect_exits_3():
    result = robotctl("http://127.0.0.1:%d" % free_port(), "--timeout", "5", "status")
    assert result.returncode == 3, result
    assert "cannot connect" in result.stderr


# -- looking: status, describe -------------------------------------------------------------

def test_status_human(appliance):
    out = ok(robotctl(appliance.url, "status"))
    assert "gateway" in out and "version" in out
    assert "default (default, sha256 " in out
    assert "controller    none" in out


def test_status_json(appliance):
    data = json_of(robotctl(appliance.url, "status", "--json"))
    assert isinstance(data["version"], str)
    assert data["gateway"]["pid"] > 0 and data["gateway"]["uptime"] >= 0
    assert data["executor"]["project"]["name"] == "default"
    assert data["executor"]["project"]["origin"] == "default"
    assert data["controller"] is None
    # This status client is the observer counted.
    assert data["observers"] == 1


def test_describe_human_and_json(appliance, connect):
    # describe observes: it never loads the project itself.
    assert "not loaded" in ok(robotctl(appliance.url, "describe"))
    controller = connect(auth={"role": "controller"})
    controller.call("process", {"params": {"object": "sport_client", "method": "GetState"}})
    controller.disconnect()
    out = ok(robotctl(appliance.url, "describe"))
    assert "not loaded" not in out
    assert "sport_client: " in out
    assert "  Move(vx: " in out
    data = json_of(robotctl(appliance.url, "--json", "describe"))
    sport = next(o for o in data["objects"] if o["name"] == "sport_client")
    move = next(m for m in sport["methods"] if m["name"] == "Move")
    assert [p["name"] for p in move["parameters"]] == ["vx", "vy", "vyaw"]


# -- controlling: call --------------------------------------------------------------------

def test_call_with_json_object_key_value_and_list(appliance):
    assert json_of(robotctl(appliance.url, "--json", "call", "sport_client", "SpeedLevel",
                            '{"level": -1}'))["speed_level"] == -1
    assert json_of(robotctl(appliance.url, "--json", "call", "sport_client", "SpeedLevel",
                            "level=1"))["speed_level"] == 1
    assert json_of(robotctl(appliance.url, "--json", "call", "sport_client", "SpeedLevel",
                            "[0]"))["speed_level"] == 0
    out = ok(robotctl(appliance.url, "call", "sport_client", "GetState"))
    assert json.loads(out)["posture"] == "lying"
    assert out.startswith("{\n  ")      # pretty JSON for people


def test_call_error_ack_exits_1_with_the_message(appliance):
    result = robotctl(appliance.url, "call", "sport_client", "Move", "vx=0.5", "vy=0", "vyaw=0")
    assert result.returncode == 1, result
    assert "RuntimeError: Move refused" in result.stderr
    result = robotctl(appliance.url, "--json", "call", "nobody", "x")
    assert result.returncode == 1
    document = json.loads(result.stderr)
    assert "unknown object 'nobody'" in document["error"]
    assert document["data"]["code"] == "unknown_object"


# -- live: events, logs --------------------------------------------------------------------

def test_events_prints_pushes_live_until_ctrl_c(appliance, connect, follow):
    with_testbot(connect)
    events = follow("events")
    events.wait_lines(lambda line: " robotctl:server_info {" in line, what="server_info")
    ok(run_until_free(appliance.url, "call", "bot", "burst", "count=3"))
    ticks = events.wait_lines(lambda line: " tick {" in line, 3, "three ticks")
    assert sorted(json.loads(line.split(" tick ", 1)[1])["i"] for line in ticks) == [0, 1, 2]
    assert events.interrupt() == 130


def test_events_filtered_by_name_json(appliance, connect, follow):
    with_testbot(connect)
    events = follow("--json", "events", "beep")

    def beeps() -> List[str]:
        # The follower connects in the background: push until it has seen one.
        ok(run_until_free(appliance.url, "call", "bot", "burst", "count=1", "event=beep"))
        ok(robotctl(appliance.url, "call", "bot", "burst", "count=1", "event=other"))
        return events.matching(lambda line: '"beep"' in line)

    wait_for(beeps, what="a beep event")
    documents = [json.loads(line) for line in list(events.lines)]
    assert {d["event"] for d in documents} == {"beep"}
    assert documents[0]["data"] == {"i": 0} and isinstance(documents[0]["time"], float)
    assert events.interrupt() == 130


def test_logs_follow_the_projects_output(appliance, connect, follow):
    with_testbot(connect)
    logs = follow("logs")

    def printed() -> List[str]:
        ok(run_until_free(appliance.url, "call", "bot", "print_text", "text=hello-from-bot"))
        return logs.matching(lambda line: line == "hello-from-bot")

    wait_for(printed, what="the project's output line")
    assert logs.interrupt() == 130


# -- roles and refusals --------------------------------------------------------------------

def test_a_second_controller_is_told_busy_and_by_whom(appliance, connect):
    connect(auth={"role": "controller"})
    result = robotctl(appliance.url, "call", "sport_client", "GetState")
    assert result.returncode == 3, result
    assert "busy" in result.stderr and "held by 127.0.0.1:" in result.stderr
    result = robotctl(appliance.url, "--json", "deploy", str(FIXTURES / "testbot"))
    assert result.returncode == 3
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["exit_code"] == 3 and error["data"]["code"] == "busy"


def test_observer_commands_work_while_another_client_controls(appliance, connect, follow):
    controller = connect(auth={"role": "controller"})
    status = json_of(robotctl(appliance.url, "--json", "status"))
    assert status["controller"]["address"].startswith("127.0.0.1:")
    controller.call("process", {"params": {"object": "sport_client", "method": "GetState"}})
    assert "sport_client" in ok(robotctl(appliance.url, "describe"))
    events = follow("events")
    events.wait_lines(lambda line: " robotctl:server_info {" in line, what="server_info")
    controller.call("process", {"params": {"object": "sport_client", "method": "GetState"}})
    assert events.interrupt() == 130


def test_wrong_or_missing_token_is_unauthorized_exit_4(token_appliance, tmp_path):
    url = token_appliance.url
    result = robotctl(url, "--token", "wrong", "status")
    assert result.returncode == 4, result
    assert "unauthorized" in result.stderr and "not the robot's" in result.stderr
    refusal = json.loads(robotctl(url, "--json", "--token", "wrong", "status").stderr)
    assert refusal["exit_code"] == 4 and refusal["data"] == {"code": "unauthorized"}, refusal
    result = robotctl(url, "status")
    assert result.returncode == 4 and "--token" in result.stderr
    assert ok(robotctl(url, "--token", TOKEN, "status"))
    assert ok(robotctl(url, "status", ROBOTCTL_TOKEN=TOKEN))
    token_file = tmp_path / "robot-token"
    token_file.write_text(TOKEN + "\n")
    assert ok(robotctl(url, "call", "sport_client", "GetState",
                       ROBOTCTL_TOKEN_FILE=str(token_file)))


def test_token_prints_the_robots_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert ok(robotctl("http://127.0.0.1:1", "token", ROBOTCTL_TOKEN_FILE=str(token_file))) \
        == TOKEN + "\n"
    assert json_of(robotctl("http://127.0.0.1:1", "--json", "token",
                            ROBOTCTL_TOKEN_FILE=str(token_file))) == TOKEN
    result = robotctl("http://127.0.0.1:1", "token", ROBOTCTL_TOKEN_FILE=str(tmp_path / "none"))
    assert result.returncode == 4 and "does not exist" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_token_unreadable_suggests_sudo(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0)
    result = robotctl("http://127.0.0.1:1", "token", ROBOTCTL_TOKEN_FILE=str(token_file))
    assert result.returncode == 4 and "sudo" in result.stderr
