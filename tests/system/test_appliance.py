"""The installed appliance driven from the host over Socket.IO, on a real systemd."""
from __future__ import annotations

import base64
import io
import re
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import socketio

from conftest import REPO, Appliance, build_variant
from container import wait_for

TESTBOT = REPO / "tests" / "fixtures" / "projects" / "testbot"
EXECUTOR = "robotctl-executor"


@contextmanager
def connected(box: Appliance, events=()) -> Iterator[socketio.Client]:
    """A controller client on the container's gateway; `client.received[event]` records."""
    client = socketio.Client(reconnection=False)
    client.received = {}
    for name in events:
        client.received[name] = []
        client.on(name, client.received[name].append)
    client.connect(f"http://127.0.0.1:{box.port}", auth={"token": box.token},
                   transports=["websocket"], wait_timeout=20)
    try:
        yield client
    finally:
        client.disconnect()


def call(client: socketio.Client, obj: Optional[str], method: str, args: Any = None) -> Dict[str, Any]:
    params = {"object": obj, "method": method, "args": {} if args is None else args}
    return client.call("process", {"params": params}, timeout=60)


def ok(reply: Dict[str, Any]) -> Any:
    assert reply["status"] == "success", reply
    return reply["data"]


def zip_testbot() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(TESTBOT.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(TESTBOT).as_posix())
    return base64.b64encode(buffer.getvalue()).decode()


def upload_testbot(box: Appliance, client: socketio.Client) -> None:
    ok(client.call("update", {"data": zip_testbot()}, timeout=120))
    ok(client.call("start", {}, timeout=60))


def journal_errors(box: Appliance, unit: str = "robotctl-*") -> str:
    return box.run(["journalctl", "--no-pager", "-q", "-p", "err", "-u", unit]).stdout


# --- the session appliance; tests run in file order and build on one another ----------

def test_default_project_answers_and_pushes(container: Appliance) -> None:
    with connected(container, events=("robot_state", "camera")) as client:
        ok(call(client, "sport_client", "StandUp"))
        ok(call(client, "sport_client", "Move", {"vx": 0.3, "vy": 0.0, "vyaw": 0.0}))
        wait_for(lambda: client.received["robot_state"], 30, "a pushed robot_state")
        ok(call(client, "sport_client", "StopMove"))
        ok(call(client, "sport_client", "StartCamera"))      # binary pushes on bookworm
        frame = wait_for(lambda: client.received["camera"], 30, "a camera frame")[0]
        assert type(frame["png"]) is bytes and frame["png"].startswith(b"\x89PNG")
    assert journal_errors(container) == ""


def test_status_lines_say_who_is_connected_and_what_runs(container: Appliance) -> None:
    gateway = "robotctl-gateway"
    with connected(container) as client:
        ok(call(client, "sport_client", "GetState"))
        wait_for(lambda: container.prop(gateway, "StatusText").startswith("controller "), 30,
                 "the gateway's status to name the controller")
        assert "executor up" in container.prop(gateway, "StatusText")
        assert re.fullmatch(r"project \S+ \((default|upload), loaded\)",
                            container.prop(EXECUTOR, "StatusText"))
    wait_for(lambda: container.prop(gateway, "StatusText").startswith("no controller connected"),
             30, "the gateway's status to say the controller left")


def test_update_restarts_the_executor_through_systemd(container: Appliance) -> None:
    before, restarts = container.main_pid(), int(container.prop(EXECUTOR, "NRestarts"))
    with connected(container) as client:
        upload_testbot(container, client)
        pid = ok(call(client, "bot", "state"))["pid"]
    assert pid == container.main_pid() != before
    assert int(container.prop(EXECUTOR, "NRestarts")) > restarts


def test_user_print_reaches_the_journal(container: Appliance) -> None:
    text = f"hello from the project {uuid.uuid4()}"
    with connected(container) as client:
        ok(call(client, "bot", "print_text", [text]))
    wait_for(lambda: text in container.journal(EXECUTOR), 30, "the print in the journal")


def test_sigstop_is_caught_by_the_watchdog(container: Appliance) -> None:
    pid, restarts = container.main_pid(), int(container.prop(EXECUTOR, "NRestarts"))
    with connected(container) as client:
        container.run(["kill", "-STOP", str(pid)])
        # WatchdogSec=10s: SIGABRT, then an automatic restart.
        wait_for(lambda: int(container.prop(EXECUTOR, "NRestarts")) > restarts, 60,
                 "the watchdog restart")
        container.wait_active([EXECUTOR])
        assert container.main_pid() != pid
        assert "watchdog timeout" in container.journal(EXECUTOR).lower()
        assert ok(call(client, "bot", "state"))["pid"] == container.main_pid()


def test_executor_restart_is_survived_by_the_gateway(container: Appliance) -> None:
    gateway = container.main_pid("robotctl-gateway")
    with connected(container) as client:
        container.run(["systemctl", "restart", EXECUTOR])
        assert ok(call(client, "bot", "state"))["pid"] == container.main_pid()
        assert client.connected
    assert container.main_pid("robotctl-gateway") == gateway


def test_twenty_quick_updates_never_hit_the_start_limit(container: Appliance) -> None:
    restarts = int(container.prop(EXECUTOR, "NRestarts"))
    data = zip_testbot()
    with connected(container) as client:
        for _ in range(20):
            ok(client.call("update", {"data": data}, timeout=120))
        ok(client.call("start", {}, timeout=60))
        assert ok(call(client, "bot", "state"))["pid"] == container.main_pid()
    assert int(container.prop(EXECUTOR, "NRestarts")) >= restarts + 20
    assert container.prop(EXECUTOR, "ActiveState") == "active"


# --- appliances of their own ----------------------------------------------------------

PROBE = """

class _Probe:
    def hello(self):
        return {nonce!r}


probe = _Probe()
"""


def test_editing_the_default_project_reloads_it(fresh: Appliance, deb: Path) -> None:
    fresh.install(deb)
    main = "/var/lib/robotctl/projects/default/main.py"
    nonce = str(uuid.uuid4())
    fresh.sh(f"cat >>{main} <<'EOF'\n{PROBE.format(nonce=nonce)}\nEOF")

    def probe_answers() -> bool:
        with connected(fresh) as client:
            return call(client, "probe", "hello").get("data") == nonce
    wait_for(probe_answers, 60, "the edited default project to be running")

    # An edit that does not compile is not applied: the running project stays.
    fresh.sh(f"echo 'def broken(:' >>{main}")
    wait_for(lambda: "does not compile" in fresh.journal("robotctl-watch"), 30,
             "the watch unit to refuse the edit")
    with connected(fresh) as client:
        assert ok(call(client, "probe", "hello")) == nonce


def test_upgrade_keeps_the_uploaded_project(fresh: Appliance, deb: Path, tmp_path: Path) -> None:
    upgrade = build_variant(tmp_path, "t1", edit_default=True)
    fresh.install(deb)
    with connected(fresh) as client:
        upload_testbot(fresh, client)
    current = fresh.sh("readlink /var/lib/robotctl/projects/current")
    fresh.install(upgrade)
    fresh.wait_active()
    assert fresh.sh("readlink /var/lib/robotctl/projects/current") == current
    with connected(fresh) as client:
        assert ok(call(client, "bot", "state"))["pid"] == fresh.main_pid()
