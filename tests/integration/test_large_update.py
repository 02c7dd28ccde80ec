"""A single-message `update` larger than eventlet's default 8 MiB websocket frame limit.

python-engineio 4.3.4 (Debian bookworm) does not pass max_message_size on to eventlet's
websocket, whose default would cap every upload at 8 MiB; the gateway passes it itself.
"""
from __future__ import annotations

import io
import os
import zipfile

from tests.appliance import FIXTURES, b64


def test_update_of_12_mib_in_one_message(client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.write(str(FIXTURES / "testbot" / "main.py"), "main.py")
        archive.write(str(FIXTURES / "testbot" / "helper.py"), "helper.py")
        archive.writestr("model.bin", os.urandom(12 * 1024 * 1024))   # incompressible
    reply = client.call("update", {"data": b64(buffer.getvalue())}, timeout=120)
    assert reply["status"] == "success", reply
    assert client.call("process", {"params": {"object": "bot", "method": "incr"}},
                       timeout=60)["data"] == 1
