"""Where packages come from (offline vs the robot's own pip configuration), and installs
that hang: time-limited, never blocking the executor, and a crash mid-install leaves
nothing half-built."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import socketio

from tests.appliance import Appliance, b64, wait_for
from tests.integration.conftest import call, ok
from tests.integration.cli_helpers import robotctl
from tests.wheels import project_zip, wheel

V1 = wheel("robopkg", "1.0")


@contextmanager
def running(tmp_path, monkeypatch, mode: str, **pip_env: str) -> Iterator[Appliance]:
    """An appliance whose environment (the robot's pip configuration) has ``pip_env``."""
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    for name, value in pip_env.items():
        monkeypatch.setenv(name, value)
    app = Appliance(tmp_path, executor={"requirements": mode, "install_timeout": 6})
    app.start()
    try:
        yield app
    finally:
        app.stop()


@contextmanager
def client_of(appliance: Appliance, role: str = "controller") -> Iterator[socketio.Client]:
    client = socketio.Client(reconnection=False)
    client.connect(appliance.url, transports=["websocket"], auth={"role": role})
    try:
        yield client
    finally:
        client.disconnect()


@contextmanager
def silent_index() -> Iterator[str]:
    """A package index that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield "http://127.0.0.1:%d/simple" % listener.getsockname()[1]
    finally:
        listener.close()


def local_wheels(tmp_path) -> str:
    folder = tmp_path / "company-mirror"
    folder.mkdir()
    for name, data in V1.items():
        (folder / name).write_bytes(data)
    return str(folder)


def test_index_mode_uses_the_robots_pip_configuration(tmp_path, monkeypatch):
    mirror = local_wheels(tmp_path)
    with running(tmp_path, monkeypatch, "index", PIP_NO_INDEX="1", PIP_FIND_LINKS=mirror) as app:
        with client_of(app) as client:
            ok(client.call("update", {"data": b64(project_zip("robopkg==1.0\n", {}))},
                           timeout=120))
            assert ok(call(client, None, "version")) == "1.0"


def test_offline_mode_ignores_the_robots_pip_configuration(tmp_path, monkeypatch):
    mirror = local_wheels(tmp_path)
    with running(tmp_path, monkeypatch, "offline", PIP_NO_INDEX="1",
                 PIP_FIND_LINKS=mirror) as app:
        with client_of(app) as client:
            reply = client.call("update", {"data": b64(project_zip("robopkg==1.0\n", {}))},
                                timeout=120)
            assert reply["status"] == "error", reply
            assert reply["data"] == {"code": "update_rejected"}, reply
            assert reply["message"].endswith("No matching distribution found for robopkg==1.0 "
                                             "(offline: only wheels/ is searched)"), reply


def test_a_hanging_install_is_time_limited_and_the_executor_keeps_serving(tmp_path,
                                                                          monkeypatch):
    with silent_index() as index, running(tmp_path, monkeypatch, "index",
                                          PIP_INDEX_URL=index) as app:
        with client_of(app) as client, client_of(app, "observer") as observer:
            replies = []
            upload = threading.Thread(target=lambda: replies.append(client.call(
                "update", {"data": b64(project_zip("robopkg==1.0\n", {}))}, timeout=120)))
            started = time.monotonic()
            upload.start()
            app.wait_log(r"building the environment")
            status = observer.call("status", {}, timeout=5)      # the main loop still serves
            assert ok(status)["executor"]["project"]["origin"] == "default"
            upload.join(60)
            assert replies and replies[0]["status"] == "error", replies
            assert replies[0]["message"] == (
                "update rejected: requirements could not be installed: pip did not finish "
                "within executor.install_timeout (6 s)"), replies
            assert replies[0]["data"] == {"code": "update_rejected"}, replies
            assert time.monotonic() - started < 40
            assert ok(call(client, "sport_client", "GetState"))["posture"] == "lying"
        envs = app.projects / "envs"
        assert not envs.exists() or list(envs.iterdir()) == []


def test_a_crash_mid_install_leaves_nothing_half_built(tmp_path, monkeypatch):
    with silent_index() as index, running(tmp_path, monkeypatch, "index",
                                          PIP_INDEX_URL=index) as app:
        with client_of(app) as client:
            replies = []
            upload = threading.Thread(target=lambda: replies.append(client.call(
                "update", {"data": b64(project_zip("robopkg==1.0\n", {}))}, timeout=60)))
            upload.start()
            app.wait_log(r"building the environment")
            os.kill(app.executor_pid(), signal.SIGKILL)
            upload.join(60)
            assert replies and replies[0]["status"] == "error", replies
            assert replies[0]["data"] == {"code": "executor_died"}, replies
            app.wait_executors(2)
        with client_of(app) as client:
            assert ok(call(client, "sport_client", "GetState"))["posture"] == "lying"
        envs = app.projects / "envs"
        wait_for(lambda: not envs.exists() or list(envs.iterdir()) == [], 10,
                 "the half-built environment to be deleted")
        assert list((app.projects / "staging").iterdir()) == []
        wait_for(lambda: not _pip_runs_in(app), 10, "pip to die with the executor")


def test_deploy_shows_the_install_phase(tmp_path, monkeypatch):
    project = tmp_path / "withwheels"
    (project / "wheels").mkdir(parents=True)
    (project / "main.py").write_text("import robopkg\n\n\ndef version():\n"
                                     "    return robopkg.VERSION\n")
    (project / "requirements.txt").write_text("robopkg==1.0\n")
    for name, data in V1.items():
        (project / "wheels" / name).write_bytes(data)
    with running(tmp_path, monkeypatch, "offline") as app:
        result = robotctl(app.url, "deploy", str(project))
        assert result.returncode == 0, result.stderr
        lines = result.stderr.splitlines()
        assert "robotctl: uploaded; installing on the robot" in lines, lines
        assert any(line.startswith("install: Successfully installed robopkg-1.0")
                   for line in lines), lines
        status = robotctl(app.url, "status")
        assert "robopkg 1.0" in status.stdout, status.stdout
        described = robotctl(app.url, "describe")
        assert "environment robopkg 1.0" in described.stdout, described.stdout


def _pip_runs_in(app: Appliance) -> bool:
    """Whether any process runs pip in the appliance's projects directory."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as stream:
                command = stream.read().decode("utf-8", "replace")
        except OSError:
            continue
        if str(app.projects) in command and "pip" in command:
            return True
    return False
