"""A large upload over a link throttled to 2 MiB/s keeps the client alive (liveness).

Why the chunked upload, and not one `update` message: engine.io counts only a PONG as proof
that a client is alive, and a client's PONG travels on the same websocket, behind whatever
frame it is sending. A single-message `update` of `gateway.max_message_size` (100 MiB, so
~133 MiB of base64) takes ~67 s on a 2 MiB/s link; the client's PONG waits behind that one
frame, so after `ping_interval + ping_timeout` (4 + 6 = 10 s by default) the gateway declares
the client dead, closes the connection (freeing the robot and running its stop hooks) and
the update is lost. The chunked upload (`upload_begin` / `upload_chunk` of at most 1 MiB /
`upload_commit`) sends the same bytes as ~0.7 s frames, so PONGs get through between chunks
and the acked byte count is the progress. It is the supported path for large projects and
slow links (the README says so); a single `update` is for what fits in the timeout.

The test builds a network namespace with a veth pair (10.200.N.1 on our side, 10.200.N.2
inside), shapes both directions with `tc ... tbf rate 16mbit` (2 MiB/s), runs the appliance
listening on 10.200.N.1 with the default ping settings, and the client inside the namespace.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

from tests.appliance import REPO, Appliance

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("ROBOTCTL_SLOW_TESTS") != "1",
                       reason="slow (~2 min): set ROBOTCTL_SLOW_TESTS=1 to run it"),
]

MAX_MESSAGE_SIZE = 104857600       # the default gateway.max_message_size

CLIENT = textwrap.dedent("""
    import base64, hashlib, json, sys, time
    import socketio
    url, path = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    client = socketio.Client(reconnection=False)
    disconnects = []
    client.on("disconnect", lambda *reason: disconnects.append(time.time()))
    client.connect(url, transports=["websocket"])
    started = time.time()
    begin = client.call("upload_begin", {"size": len(data), "name": "big.zip",
                        "sha256": hashlib.sha256(data).hexdigest()}, timeout=60)
    offset, size = begin["data"]["offset"], begin["data"]["chunk_size"]
    slowest = 0.0
    while offset < len(data):
        t = time.time()
        ack = client.call("upload_chunk", {"offset": offset, "data": base64.b64encode(
            data[offset:offset + size]).decode()}, timeout=120)
        assert ack["status"] == "success", ack
        offset = ack["data"]["received"]
        slowest = max(slowest, time.time() - t)
    commit = client.call("upload_commit", {}, timeout=300)
    print(json.dumps({"commit": commit, "seconds": time.time() - started,
                      "slowest_chunk": slowest, "disconnects": len(disconnects),
                      "connected": client.connected}))
    client.disconnect()
""")


def project_of_exactly(size: int) -> bytes:
    """A valid project zip of exactly ``size`` bytes (incompressible, stored)."""
    def build(blob_size: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("main.py", "push_message = None\nSIZE = %d\n" % size)
            archive.writestr("blob.bin", os.urandom(blob_size))
        return buffer.getvalue()
    overhead = len(build(0))
    data = build(size - overhead)
    assert len(data) == size
    return data


def test_chunked_upload_of_max_message_size_over_a_2_mib_s_link(shaped_link, tmp_path):
    ns, address, _ = shaped_link
    app = Appliance(tmp_path, gateway={"host": address})
    app.url = "http://%s:%d" % (address, app.port)
    data = project_of_exactly(MAX_MESSAGE_SIZE)
    (tmp_path / "big.zip").write_bytes(data)
    (tmp_path / "client.py").write_text(CLIENT)
    app.start()
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "client.py"),
             app.url, str(tmp_path / "big.zip")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        commit = result["commit"]
        assert commit["status"] == "success", commit
        current = app.projects / "current"
        assert (current / "main.py").read_text().endswith("SIZE = %d\n" % MAX_MESSAGE_SIZE)
        assert (current / "blob.bin").stat().st_size > MAX_MESSAGE_SIZE - 1024
        assert result["disconnects"] == 0 and result["connected"], result
        # the link really was slow: 133 MiB of base64 at 2 MiB/s
        assert result["seconds"] > 40, result
        assert app.count(r"installed uploaded project .* as \S+") == 1
        print("throttled chunked upload:", json.dumps(result))
    finally:
        app.stop()
