"""TLS on the gateway's port: Socket.IO over wss:// and https:// polling with a verified
certificate, and what a clear-text client gets from the TLS port."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import ssl

import pytest
import requests
import socketio

from tests.appliance import wait_for, zip_files
from tests.integration.conftest import call, ok, record
from tests.integration.tls_support import TOKEN

PUSHER = {"main.py": "import threading\n"
                     "push_message = None\n"
                     "def shout(n):\n"
                     "    for i in range(n):\n"
                     "        push_message('tick', {'i': i})\n"
                     "    return n\n"}


# python-socketio's sync Client over wss:// now and then loses a reply: websocket-client
# reads and writes one TLS connection from two threads (seen against a plain
# eventlet.wrap_ssl server too). So the sync client goes over https:// polling here, as the
# robotctl command does, and wss:// is driven by the AsyncClient (one thread), the official
# JavaScript client (test_readme_client) and Chromium (tests/browser).

def test_call_push_and_upload_over_https_polling(tls_connect):
    client = tls_connect(transports=("polling",))
    assert client.transport() == "polling"
    assert ok(call(client, "sport_client", "StandUp"))["posture"] == "standing"
    ticks = record(client, "tick")
    data = base64.b64encode(zip_files(PUSHER)).decode()
    assert ok(client.call("update", {"data": data}, timeout=60))["name"]
    assert ok(call(client, None, "shout", {"n": 5})) == 5
    wait_for(lambda: len(ticks) == 5, 30, "5 pushed ticks")
    assert sorted(t["i"] for t in ticks) == list(range(5))


def test_call_push_and_upload_over_wss(tls_appliance):
    aiohttp = pytest.importorskip("aiohttp")

    async def session() -> None:
        context = ssl.create_default_context(cafile=tls_appliance.cafile)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        ticks = []
        client.on("tick", lambda data: ticks.append(data["i"]))
        try:
            await client.connect(tls_appliance.url, transports=["websocket"],
                                 auth={"token": TOKEN}, wait_timeout=30)
            assert client.transport() == "websocket"
            params = {"object": "sport_client", "method": "StandUp"}
            reply = await client.call("process", {"params": params}, timeout=60)
            assert ok(reply)["posture"] == "standing"
            data = base64.b64encode(zip_files(PUSHER)).decode()
            assert ok(await client.call("update", {"data": data}, timeout=60))["name"]
            reply = await client.call("process", {"params": {"method": "shout",
                                                             "args": {"n": 5}}}, timeout=60)
            assert ok(reply) == 5
            for _ in range(300):
                if len(ticks) == 5:
                    break
                await asyncio.sleep(0.1)
            assert sorted(ticks) == list(range(5))
        finally:
            await client.disconnect()
            await http.close()
    asyncio.run(session())


def test_chunked_upload_over_tls(tls_connect):
    client = tls_connect(transports=("polling",))
    blob = zip_files(dict(PUSHER, **{"data.bin": "x" * 3_000_000}))
    begin = ok(client.call("upload_begin", {"size": len(blob), "name": "big",
                                            "sha256": hashlib.sha256(blob).hexdigest()}))
    step = begin["chunk_size"]
    for offset in range(0, len(blob), step):
        ok(client.call("upload_chunk", {"offset": offset, "data": base64.b64encode(
            blob[offset:offset + step]).decode()}, timeout=30))
    assert ok(client.call("upload_commit", {}, timeout=60))["name"] == "big"


def test_console_over_https(tls_appliance):
    page = requests.get(tls_appliance.url + "/", verify=tls_appliance.cafile, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_unverified_certificate_is_refused_by_the_client(tls_appliance):
    client = socketio.Client(reconnection=False)     # trusts only the system's CAs
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(tls_appliance.url, transports=["websocket"], wait_timeout=10)


def clear_text(app, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as s:
        s.sendall(request)
        answer = b""
        while True:
            data = s.recv(65536)
            if not data:
                return answer
            answer += data


def test_clear_text_http_gets_a_refusal_not_a_hang(tls_appliance):
    host = b"Host: robot.local:%d\r\n" % tls_appliance.port
    socketio_get = clear_text(tls_appliance, b"GET /socket.io/?EIO=4&transport=polling "
                              b"HTTP/1.1\r\n" + host + b"\r\n")
    assert socketio_get.startswith(b"HTTP/1.1 400 ")
    assert b"connect with https:// or wss://" in socketio_get
    console = clear_text(tls_appliance, b"GET / HTTP/1.1\r\n" + host + b"\r\n")
    assert console.startswith(b"HTTP/1.1 301 ")
    assert b"Location: https://robot.local:%d/\r\n" % tls_appliance.port in console


def test_clear_text_socketio_client_fails_at_once(tls_appliance):
    client = socketio.Client(reconnection=False)
    url = tls_appliance.url.replace("https://", "http://")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, transports=["polling"], wait_timeout=10)


def test_a_silent_client_does_not_stall_others(tls_appliance, tls_connect):
    with socket.create_connection(("127.0.0.1", tls_appliance.port), timeout=30):
        client = tls_connect(transports=("polling",))   # while the silent one holds its connection open
        assert ok(call(client, "sport_client", "GetState")) is not None
