"""`robotctl deploy` run as a subprocess against a real appliance: folders and zips, the
progress shown, refusals, and uploads resumed after a reconnect."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import List

from gateway.cli import connection, settings, upload, zipping
from gateway.cli.progress import Progress
from tests.appliance import FIXTURES, REPO, Appliance, zip_dir
from tests.integration.cli_helpers import json_of, ok, robotctl, run_until_free

CHUNK = 1024 * 1024


def big_project(folder: Path) -> Path:
    """A project of about 2.5 MiB of incompressible data: three chunks."""
    folder.mkdir()
    (folder / "main.py").write_text("push_message = None\n\n\ndef size():\n"
                                    "    import os\n    return os.path.getsize('blob.bin')\n")
    (folder / "blob.bin").write_bytes(os.urandom(CHUNK * 5 // 2))
    return folder


# -- zipping and progress ------------------------------------------------------------------

def test_a_folder_zips_to_the_same_bytes_every_time(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.py").write_text("x = 1\n")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    first = zipping.zip_folder(project)
    os.utime(str(project / "main.py"), (1, 1))
    assert zipping.zip_folder(project) == first
    assert [name for name, _ in zipping.project_files(project)] == ["main.py"]


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = Progress(3 * CHUNK, terminal)
    bar.update(CHUNK)
    bar.note("resuming")
    bar.update(3 * CHUNK)
    bar.finish()
    assert terminal.getvalue() == (
        "\rupload [#########---------------------]  33% 1.0 MiB\nrobotctl: resuming\n"
        "\rupload [##############################] 100% 3.0 MiB\n")
    pipe = io.StringIO()
    lines = Progress(3 * CHUNK, pipe)
    for done in (0, CHUNK, 2 * CHUNK, 3 * CHUNK):
        lines.update(done)
    assert pipe.getvalue().splitlines() == [
        "upload 0% (0 B of 3.0 MiB)", "upload 33% (1.0 MiB of 3.0 MiB)",
        "upload 66% (2.0 MiB of 3.0 MiB)", "upload 100% (3.0 MiB of 3.0 MiB)"]


# -- deploy ----------------------------------------------------------------------------------

def test_deploy_folder_then_call(appliance):
    result = robotctl(appliance.url, "deploy", str(FIXTURES / "testbot"))
    out = ok(result)
    assert "uploaded testbot (1." in out and "project  testbot (upload, sha256 " in out
    assert "loaded)" in out
    assert "upload 100%" in result.stderr        # progress lines when stderr is not a tty
    assert json.loads(ok(robotctl(appliance.url, "call", "bot", "add", "a=2", "b=3"))) == 5
    echoed = json_of(robotctl(appliance.url, "--json", "call", "bot", "echo",
                              "text=hello", "n=3", "flag=true"))
    assert echoed == {"args": [], "kwargs": {"text": "hello", "n": 3, "flag": True}}
    assert json_of(robotctl(appliance.url, "--json", "call", "bot", "echo", "[1, null]")) == {
        "args": [1, None], "kwargs": {}}
    assert json_of(robotctl(appliance.url, "--json", "call", "-", "ping")) == "pong"


def test_deploy_zip_json(appliance, tmp_path):
    archive = tmp_path / "folder_zip.zip"
    archive.write_bytes(zip_dir(FIXTURES / "folder_zip", "folder_zip/"))
    data = json_of(robotctl(appliance.url, "--json", "deploy", str(archive)))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert data["upload"] == {"name": "folder_zip", "size": archive.stat().st_size,
                              "sha256": digest, "resumed_from": None}
    assert data["project"]["name"] == "folder_zip"
    assert data["project"]["loaded"] is True and data["project"]["origin"] == "upload"
    assert data["project"]["missing_requirements"] == []
    assert json_of(robotctl(appliance.url, "--json", "call", "thing", "where")) == "folder"


def test_deploy_of_a_broken_project_exits_1(appliance):
    result = robotctl(appliance.url, "deploy", str(FIXTURES / "import_error"))
    assert result.returncode == 1, result
    assert "ModuleNotFoundError" in result.stderr
    result = robotctl(appliance.url, "--json", "deploy", str(FIXTURES / "import_error"))
    error = json.loads(result.stderr.splitlines()[-1])     # after the progress lines
    assert result.returncode == 1 and error["exit_code"] == 1, result
    assert error["data"]["code"] == "load_failed", error


def test_deploy_of_a_missing_path_exits_2(appliance, tmp_path):
    result = robotctl(appliance.url, "deploy", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no such file or folder" in result.stderr
    (tmp_path / "notes.txt").write_text("hi")
    result = robotctl(appliance.url, "deploy", str(tmp_path / "notes.txt"))
    assert result.returncode == 2 and "neither a folder nor a .zip" in result.stderr


# -- resumed uploads -----------------------------------------------------------------------

def test_deploy_resumes_an_upload_a_dropped_client_left_half_done(appliance, connect, tmp_path):
    project = big_project(tmp_path / "big")
    blob = zipping.zip_folder(project)
    half = len(blob) // 2
    client = connect(auth={"role": "controller"})
    begun = client.call("upload_begin", {"size": len(blob), "name": "big",
                                         "sha256": hashlib.sha256(blob).hexdigest()})
    assert begun["status"] == "success" and begun["data"]["offset"] == 0, begun
    for offset in range(0, half, CHUNK):
        piece = blob[offset:min(offset + CHUNK, half)]
        sent = client.call("upload_chunk", {"offset": offset,
                                            "data": base64.b64encode(piece).decode()})
        assert sent["data"] == {"received": offset + len(piece)}, sent
    client.disconnect()
    result = run_until_free(appliance.url, "--json", "deploy", str(project))
    data = json.loads(ok(result))
    assert data["upload"]["resumed_from"] == half
    assert "resuming the upload at" in result.stderr
    assert json_of(robotctl(appliance.url, "--json", "call", "-", "size")) == CHUNK * 5 // 2


def test_upload_reconnects_and_resumes_after_the_connection_drops(appliance, tmp_path):
    project = big_project(tmp_path / "big")
    blob = zipping.zip_folder(project)
    config = settings.Settings(appliance.url, None, 60.0, False)
    opened: List[connection.Connection] = []

    def connect() -> connection.Connection:
        opened.append(connection.Connection(config, "controller").open())
        return opened[-1]

    class DropAfterFirstChunk(Progress):
        def update(self, done: int) -> None:
            super().update(done)
            if len(opened) == 1 and 0 < done < len(blob):
                opened[0].client.disconnect()     # as if the Wi-Fi went away mid-upload

    job = upload.Upload(blob, "big", DropAfterFirstChunk(len(blob)))
    conn, installed = job.run(connect, patience=30)
    try:
        assert len(opened) == 2
        assert job.resumed_from == CHUNK
        assert installed["origin"] == "upload"
        assert conn.request("start")["loaded"] is True
    finally:
        conn.close()


def test_deploy_goes_on_by_the_codes_of_refused_chunks(tmp_path):
    """README: a chunk refused with upload_out_of_order is followed by the one at
    data.received, and no_upload begins the upload again (the gateway slips, by a fault)."""
    app = Appliance(tmp_path)
    app.env = {"PYTHONPATH": "%s:%s" % (REPO / "tests" / "faults", REPO),
               "ROBOTCTL_TEST_FAULT": "upload_slips"}
    app.start()
    try:
        project = big_project(tmp_path / "big")
        data = json_of(robotctl(app.url, "--json", "deploy", str(project)))
        assert data["project"]["name"] == "big" and data["project"]["loaded"] is True, data
        assert app.count("injected fault: the gateway forgot the upload") == 1
        assert app.count("injected fault: the gateway lost the last 1000 bytes") == 1
        assert json_of(run_until_free(app.url, "--json", "call", "-", "size")) == CHUNK * 5 // 2
    finally:
        app.stop()
