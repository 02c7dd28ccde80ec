from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import socketio

from tests.appliance import FIXTURES, Appliance, b64, zip_dir


@pytest.fixture
def appliance(tmp_path, request) -> Iterator[Appliance]:
    marker = request.node.get_closest_marker("config")
    overrides = marker.kwargs if marker else {}
    app = Appliance(tmp_path, **overrides).start()
    yield app
    app.stop()


@pytest.fixture
def connect(appliance) -> Iterator:
    """connect(**kwargs) -> a connected python-socketio Client; all are closed at the end."""
    clients: List[socketio.Client] = []

    def make(**kwargs) -> socketio.Client:
        client = socketio.Client(reconnection=False)
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
    """A list that receives the payload of every ``event`` the client gets, in arrival order.

    python-socketio runs event handlers on its one reader thread, so the list's order is the
    order on the wire, and an ack is handled only after every event sent before it.
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
