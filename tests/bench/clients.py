"""Client-side helpers: connecting (with a retry while the appliance still sees the previous
client), calls, and the payloads of the benchmark's fixture project."""
from __future__ import annotations

import time
from typing import Any, Dict

import socketio

from tests.appliance import FIXTURES, b64, zip_dir

PROJECT = "benchbot"


def process(method: str, **args: Any) -> Dict[str, Any]:
    return {"params": {"object": "bench", "method": method, "args": args}}


def project_b64(project: str = PROJECT) -> str:
    return b64(zip_dir(FIXTURES / project))


def connect(url: str, timeout: float = 10.0) -> socketio.Client:
    deadline = time.monotonic() + timeout
    while True:
        client = socketio.Client(reconnection=False)
        try:
            client.connect(url, transports=["websocket"], wait_timeout=10)
            return client
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def connect_async(url: str, timeout: float = 10.0) -> socketio.AsyncClient:
    import asyncio
    deadline = time.monotonic() + timeout
    while True:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(url, transports=["websocket"], wait_timeout=10)
            return client
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def check(ack: Any, what: str) -> Any:
    if not (isinstance(ack, dict) and ack.get("status") == "success"):
        raise RuntimeError("%s failed: %r" % (what, ack if len(repr(ack)) < 500 else repr(ack)[:500]))
    return ack.get("data")


def install_project(url: str, project: str = PROJECT) -> None:
    client = connect(url)
    try:
        check(client.call("update", {"data": project_b64(project)}, timeout=60), "update")
    finally:
        client.disconnect()
