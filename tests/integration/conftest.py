from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import socketio

from tests import prerequisites
from tests import shaped_link as shaping
from tests.appliance import FIXTURES, Appliance, b64, zip_dir
from tests.integration.tls_support import tls_appliance, tls_connect  # noqa: F401 (fixtures)

# The robotctl helpers assert like a test does: give their failures pytest's details too.
pytest.register_assert_rewrite("tests.integration.cli_helpers")


@pytest.fixture
def appliance(tmp_path, request) -> Iterator[Appliance]:
    marker = request.node.get_closest_marker("config")
    overrides = dict(marker.kwargs) if marker else {}
    # config(token="…"): that token in tmp_path/token, named by gateway.auth_token_file.
    token = overrides.pop("token", None)
    if token is not None:
        (tmp_path / "token").write_text(token + "\n")
        overrides["gateway"] = dict(overrides.get("gateway", {}),
                                    auth_token_file=str(tmp_path / "token"))
    supervisor = request.node.get_closest_marker("supervisor")
    app = Appliance(tmp_path, supervisor.args if supervisor else (), **overrides).start()
    yield app
    app.stop()
    # A gateway callback that failed or broke its contract (gateway.callbacks) fails the test.
    broken = [line for line in app.log.splitlines() if re.search(r"callback \S+ for .* failed", line)]
    assert not broken, "a gateway callback failed:\n" + "\n".join(broken)


@pytest.fixture
def shaped_link() -> Iterator[shaping.Link]:
    """(namespace, our address, its address): a veth pair into a fresh namespace, 2 MiB/s
    each way (tests/shaped_link.py)."""
    if not shaping.available():
        prerequisites.missing("needs root, ip and tc (apt-get install iproute2; run as root)")
    with shaping.shaped_link(os.getpid() % 10000) as link:
        yield link


@pytest.fixture
def connect(appliance) -> Iterator:
    """connect(events=(), ordered=False, **kwargs) -> a connected python-socketio Client; all
    are closed at the end. ``client.received[name]`` lists the ``events`` it got (see
    ``record``); ``ordered`` makes it handle messages in wire order (see ``wire_order``)."""
    clients: List[socketio.Client] = []

    def make(events=(), ordered=False, **kwargs) -> socketio.Client:
        client = socketio.Client(reconnection=False)
        if ordered:
            wire_order(client)
        # Recorded from before the connection, so not even the first event is missed.
        client.received = {name: record(client, name) for name in events}
        client.connect(appliance.url, transports=["websocket"], **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.connected:
            client.disconnect()


@pytest.fixture
def client(connect) -> socketio.Client:
    return connect()


def call(client: socketio.Client, obj, method, args=None, timeout: float = 60):
    params = {"object": obj, "method": method}
    if args is not None:
        params["args"] = args
    return client.call("process", {"params": params}, timeout=timeout)


def upload(client: socketio.Client, project: str, timeout: float = 60, prefix: str = ""):
    """Upload tests/fixtures/projects/<project> and return the ack."""
    data = b64(zip_dir(FIXTURES / project, prefix))
    return client.call("update", {"data": data}, timeout=timeout)


def record(client: socketio.Client, event: str) -> List:
    """A list that receives the payload of every ``event`` the client gets.

    python-socketio hands every incoming message to a thread of its own, so the list is in
    wire order only for a client made with ``connect(ordered=True)`` (see ``wire_order``).
    """
    received: List = []
    client.on(event, lambda *data: received.append(data[0] if len(data) == 1 else data))
    return received


def project_snapshot(appliance: Appliance) -> Tuple[str, Dict[str, bytes]]:
    """Where ``projects/current`` resolves to, and the content of every file of the project."""
    target = Path(os.path.realpath(str(appliance.projects / "current")))
    files = {path.relative_to(target).as_posix(): path.read_bytes()
             for path in sorted(target.rglob("*"))
             if path.is_file() and "__pycache__" not in path.parts}
    return str(target), files


def ok(reply):
    """Assert that an ack is a success (showing the whole ack if not) and return its data."""
    assert isinstance(reply, dict) and reply.get("status") == "success", reply
    return reply["data"]


def wire_order(client: socketio.Client) -> socketio.Client:
    """Make ``client`` handle incoming messages one by one, in the order they came over the wire.

    python-socketio's Engine.IO layer starts a new thread for every incoming message, so two
    events (or an event and an ack) sent in order may reach their handlers out of order; a
    JavaScript client handles them in order. This runs them on the reader thread instead, as
    the JavaScript client does, so tests can check the order the server sent. Handlers of such
    a client must be quick and must not wait for the server.
    """
    eio = client.eio
    trigger = eio._trigger_event

    def in_order(event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return trigger(event, *args, **kwargs)

    eio._trigger_event = in_order
    return client
