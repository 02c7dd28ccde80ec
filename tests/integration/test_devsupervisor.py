"""`make run` behaves like the robot (issue 11): the watchdog contract, one exit recorder,
and a quick, quiet Ctrl+C."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import socketio

from tests.appliance import REPO, Appliance, wait_for
from tests.integration.conftest import call, ok, record


@pytest.fixture
def watched(tmp_path):
    app = Appliance(tmp_path, supervisor_args=["--watchdog-sec", "2"]).start()
    yield app
    app.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: its parent has not reaped it yet.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_a_frozen_executor_is_killed_and_restarted(watched):
    frozen = watched.executor_pid()
    os.kill(frozen, signal.SIGSTOP)
    watched.wait_log(r"the executor stopped pinging its watchdog for 2 s; killing it")
    watched.wait_executors(2)
    assert watched.executor_pid() != frozen
    client = socketio.Client(reconnection=False)
    infos = record(client, "robotctl:server_info")
    client.connect(watched.url, transports=["websocket"], wait_timeout=30)
    try:
        wait_for(lambda: infos, 30, "server_info")
        assert infos[-1]["last_restart"]["reason"] == "watchdog", infos[-1]
        assert ok(call(client, "sport_client", "GetState"))
    finally:
        client.disconnect()


def test_every_child_gets_the_watchdog_contract(watched):
    children = subprocess.run(["pgrep", "-P", str(watched.process.pid)], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.split()
    assert len(children) == 3, children
    for pid in children:
        with open("/proc/%s/environ" % pid, "rb") as f:
            env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        assert env[b"WATCHDOG_USEC"] == b"2000000"
        assert env[b"NOTIFY_SOCKET"].endswith(b"notify.sock")


def test_ctrl_c_stops_everything_quickly_and_quietly(appliance):
    children = [int(pid) for pid in subprocess.run(
        ["pgrep", "-P", str(appliance.process.pid)], stdout=subprocess.PIPE,
        universal_newlines=True).stdout.split()]
    assert len(children) == 3, children
    started = time.monotonic()
    os.killpg(appliance.process.pid, signal.SIGINT)     # what a terminal's Ctrl+C sends
    appliance.process.wait(30)
    elapsed = time.monotonic() - started
    wait_for(lambda: not any(alive(pid) for pid in children), 30, "the children to be gone")
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in appliance.log and "Error" not in appliance.log.split(
        "Press Ctrl+C to stop.")[-1], appliance.log
    assert appliance.log.rstrip().endswith("robotctl: stopped"), appliance.log[-2000:]


def test_one_program_records_why_the_executor_stopped(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = tmp_path / "robotctl.yaml"
    config.write_text("ipc:\n  command_socket: ipc://%s/cmd.ipc\n  callback_socket: ipc://%s/cb.ipc\n"
                      % (run_dir, run_dir))
    env = dict(os.environ, PYTHONPATH=str(REPO), SERVICE_RESULT="watchdog", EXIT_CODE="killed",
               EXIT_STATUS="ABRT")
    subprocess.run([sys.executable, "-m", "shared.exit_record", "--config", str(config),
                    "executor"], env=env, check=True, cwd=str(REPO))
    line = (run_dir / "executor-last-exit").read_text()
    assert re.fullmatch(r"SERVICE_RESULT=watchdog EXIT_CODE=killed EXIT_STATUS=ABRT TIME=\d+\n",
                        line), line
    assert sorted(os.listdir(str(run_dir))) == ["executor-last-exit"]
    unit = (REPO / "units" / "robotctl-executor.service").read_text()
    assert re.search(r"^ExecStopPost=/usr/bin/python3 -m shared\.exit_record --config "
                     r"/etc/robotctl/robotctl\.yaml executor$", unit, re.M), unit
    assert not (REPO / "units" / "record-exit").exists()
