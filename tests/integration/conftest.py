from __future__ import annotations

from typing import Iterator, List

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
