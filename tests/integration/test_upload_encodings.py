"""Uploads from the tools people use (issue 11): wrapped base64, data: URIs, missing padding,
clear refusals with an offset; chunked uploads bounded by the project limits; console paths
outside the console are 404."""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import os
import zipfile

import pytest

from tests.appliance import FIXTURES, zip_dir
from tests.integration.cli_helpers import ok as cli_ok
from tests.integration.cli_helpers import robotctl
from tests.integration.conftest import call, ok

MIB = 1024 * 1024


def zipped_testbot(padding_needed: bool = False) -> bytes:
    """The testbot project; with ``padding_needed`` its length is not a multiple of 3 (a
    ZIP comment makes it so), so its base64 ends in "="."""
    data = zip_dir(FIXTURES / "testbot")
    if padding_needed and len(data) % 3 == 0:
        buffer = io.BytesIO(data)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.comment = b"x"
        data = buffer.getvalue()
    return data


def installed(client, text: str) -> None:
    ok(client.call("update", {"data": text}, timeout=120))
    assert ok(call(client, "bot", "add", {"a": 2, "b": 3})) == 5


def test_base64_wrapped_at_76_columns_is_accepted(client):
    installed(client, base64.encodebytes(zipped_testbot()).decode())       # MIME, GNU base64


def test_a_data_uri_is_accepted(client):
    installed(client, "data:application/zip;base64," + base64.b64encode(zipped_testbot()).decode())


def test_unpadded_base64_is_accepted(client):
    text = base64.b64encode(zipped_testbot(padding_needed=True)).decode()
    assert text.endswith("=")
    installed(client, text.rstrip("="))


@pytest.mark.parametrize("text, expected", [
    ("UEsDBAoAAAAA!AAAA", "'!' at offset 12 is not a base64 character"),
    ("UEsD\nBAoA-_AA", "'-' at offset 9 is not a base64 character"),
    ("UEsDBA==UEsD", "padding '=' at offset 6 is followed by more data"),
    ("UEsDB", "ends at offset 5 in the middle of a byte"),
    ("data:application/zip,UEsDBA", "data: URI without ';base64,'"),
])
def test_what_is_still_refused_names_the_cause_and_offset(client, text, expected):
    reply = client.call("update", {"data": text}, timeout=60)
    assert reply["status"] == "error" and expected in reply["message"], reply
    assert reply["data"] == {"code": "invalid_payload"}, reply
    assert ok(call(client, "sport_client", "GetState")) is not None    # nothing changed


def test_chunks_accept_wrapped_base64(client):
    data = zipped_testbot()
    ok(client.call("upload_begin", {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                    "name": "testbot.zip"}, timeout=60))
    ok(client.call("upload_chunk", {"offset": 0, "data": base64.encodebytes(data).decode()},
                   timeout=60))
    ok(client.call("upload_commit", {}, timeout=120))
    assert ok(call(client, "bot", "add", {"a": 1, "b": 1})) == 2


def test_chunked_upload_errors_carry_codes_a_client_resumes_by(client):
    data = zipped_testbot()
    begin = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "name": "t.zip"}
    chunk = {"offset": 0, "data": base64.b64encode(data).decode()}
    for event, payload in (("upload_chunk", chunk), ("upload_commit", {})):
        reply = client.call(event, payload, timeout=60)
        assert reply["message"] == "invalid payload: no upload in progress: send upload_begin first"
        assert reply["status"] == "error" and reply["data"] == {"code": "no_upload"}, reply
    ok(client.call("upload_begin", begin, timeout=60))
    ahead = client.call("upload_chunk", dict(chunk, offset=10), timeout=60)
    assert ahead["message"] == "offset 10 is not the received byte count 0", ahead
    assert ahead["data"] == {"received": 0, "code": "upload_out_of_order"}, ahead
    early = client.call("upload_commit", {}, timeout=60)
    assert early["message"] == "invalid payload: only 0 of %d bytes were received" % len(data)
    assert early["data"] == {"code": "invalid_payload"}, early
    ok(client.call("upload_begin", dict(begin, sha256="0" * 64), timeout=60))
    ok(client.call("upload_chunk", chunk, timeout=60))
    mismatch = client.call("upload_commit", {}, timeout=60)
    assert mismatch["message"].startswith("invalid payload: sha256 mismatch: the received "
                                          "bytes hash to %s" % begin["sha256"]), mismatch
    assert mismatch["data"] == {"code": "upload_mismatch"}, mismatch
    assert ok(call(client, "sport_client", "GetState")) is not None    # nothing changed


@pytest.mark.config(gateway={"max_message_size": 2 * MIB})
def test_a_chunked_upload_is_bounded_by_the_project_limits_not_the_message_size(appliance, tmp_path):
    project = tmp_path / "big"
    project.mkdir()
    (project / "main.py").write_text("def size():\n    import os\n"
                                     "    return os.path.getsize('blob.bin')\n")
    (project / "blob.bin").write_bytes(os.urandom(3 * MIB))
    cli_ok(robotctl(appliance.url, "deploy", str(project)))
    assert cli_ok(robotctl(appliance.url, "call", "-", "size")).strip() == str(3 * MIB)


def test_malformed_chunks_and_a_broken_zip_are_refused_with_their_codes(client):
    """The README's codes for the chunked path: a malformed field is invalid_payload, a
    committed upload that is not a project is update_rejected; nothing changes."""
    bad = client.call("upload_begin", {"size": -1, "sha256": "0" * 64}, timeout=60)
    assert bad["status"] == "error" and "size" in bad["message"], bad
    assert bad["data"] == {"code": "invalid_payload"}, bad
    broken = b"PK" + b"not a zip" * 10
    ok(client.call("upload_begin", {"size": len(broken), "name": "broken.zip",
                                    "sha256": hashlib.sha256(broken).hexdigest()}, timeout=60))
    not_base64 = client.call("upload_chunk", {"offset": 0, "data": "UEsD!"}, timeout=60)
    assert "'!' at offset 4 is not a base64 character" in not_base64["message"], not_base64
    assert not_base64["data"] == {"code": "invalid_payload"}, not_base64
    too_long = client.call("upload_chunk", {"offset": 0,
                                            "data": base64.b64encode(broken + b"x").decode()},
                           timeout=60)
    assert "past the announced size" in too_long["message"], too_long
    assert too_long["data"] == {"code": "invalid_payload"}, too_long
    assert ok(client.call("upload_chunk", {"offset": 0, "data": base64.b64encode(broken).decode()},
                          timeout=60)) == {"received": len(broken)}
    rejected = client.call("upload_commit", {}, timeout=120)
    assert rejected["message"].startswith("update rejected: not a zip archive"), rejected
    assert rejected["data"] == {"code": "update_rejected"}, rejected
    assert ok(call(client, "sport_client", "GetState")) is not None    # nothing changed


@pytest.mark.config(executor={"max_project_size": 4 * MIB, "max_project_files": 10})
def test_a_chunked_upload_over_the_project_limit_is_refused(client):
    reply = client.call("upload_begin", {"size": 5 * MIB, "sha256": "0" * 64}, timeout=60)
    assert reply["status"] == "error", reply
    assert "executor.max_project_size" in reply["message"], reply
    assert reply["data"] == {"code": "update_rejected"}, reply


@pytest.mark.parametrize("path", ["/console/..", "/console/../server.py", "/console/vendor",
                                  "/console/./console.js", "/console/missing.js"])
def test_paths_outside_the_console_files_are_404(appliance, path):
    assert raw_get(appliance.port, path) == 404, path     # sent as is, not normalised
    assert raw_get(appliance.port, "/console/console.js") == 200


def raw_get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()
