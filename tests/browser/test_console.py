"""Browser tests of the web console: headless Chromium (Debian's chromium) driven by
playwright-core against a real appliance. The browser side is tests/browser/console_e2e.mjs;
its assertions go through the DOM. Screenshots land in tests/browser/artifacts/.

Prerequisites: node + npm (``make console`` builds the page) and /usr/bin/chromium. Without
them the test is skipped, except under CI=true, where a missing prerequisite is a failure.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from tests import prerequisites
from tests.appliance import FIXTURES, REPO, Appliance

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CONSOLE = REPO / "gateway" / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def missing(reason: str) -> None:
    prerequisites.missing("browser tests cannot run: %s" % reason)


@pytest.fixture(scope="module")
def console_built() -> Path:
    for tool in ("node", "npm", "make"):
        if shutil.which(tool) is None:
            missing("%s is not installed (the console is built with the machine's node/npm)" % tool)
    if not os.access(CHROMIUM, os.X_OK):
        missing("%s is missing: apt-get install chromium" % CHROMIUM)
    build = subprocess.run(["make", "-s", "console"], cwd=str(REPO), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600)
    assert build.returncode == 0, "make console failed:\n" + build.stdout
    assert (CONSOLE / "vendor" / "socket.io.min.js").is_file()
    assert (CONSOLE / "node_modules" / "playwright-core").is_dir()
    return CONSOLE


@pytest.fixture
def appliance(tmp_path) -> Iterator[Appliance]:
    # A short time limit, so a call can run past it (the console shows the timeout's hint).
    app = Appliance(tmp_path, executor={"max_execution_time": 6}).start()
    yield app
    app.stop()


def project_zip(path: Path) -> Path:
    """tests/fixtures/projects/testbot plus 2.5 MiB of incompressible data: three chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted((FIXTURES / "testbot").rglob("*.py")):
            archive.write(str(file), file.relative_to(FIXTURES / "testbot").as_posix())
        archive.writestr(zipfile.ZipInfo("data/blob.bin"), os.urandom(5 * 512 * 1024),
                         compress_type=zipfile.ZIP_STORED)
    path.write_bytes(buffer.getvalue())
    return path


def fetch(url: str) -> str:
    """The body at ``url``, or "HTTP <code>" when the gateway answers with an error."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return "HTTP %d" % e.code


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), "%s is not a PNG" % path
    # A blank 1280x900 render compresses to a few kB; the console is far richer.
    assert len(data) > 20000, "%s is only %d bytes: a blank page?" % (path, len(data))


def test_console_end_to_end(console_built, appliance, tmp_path):
    page = fetch(appliance.url + "/")
    assert "robotctl console" in page, (
        "the gateway does not serve gateway/console/index.html at /; got:\n" + page[:300])
    assert "Socket.IO v4" in fetch(appliance.url + "/console/vendor/socket.io.min.js")[:200], (
        "the gateway does not serve gateway/console/ under /console/ (static_files)")

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    env = dict(os.environ, CONSOLE_URL=appliance.url + "/",
               ZIP_PATH=str(project_zip(tmp_path / "testbot.zip")),
               ARTIFACTS=str(ARTIFACTS), CHROMIUM=CHROMIUM)
    run = subprocess.run(["node", str(HERE / "console_e2e.mjs")], cwd=str(REPO), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    print(run.stdout)
    assert run.returncode == 0, "console_e2e.mjs failed:\n%s\n--- appliance log (tail) ---\n%s" % (
        run.stdout[-6000:], appliance.log[-4000:])
    for name in ("controller", "observer", "taken-over", "camera"):
        check_png(ARTIFACTS / (name + ".png"))
    assert (ARTIFACTS / "views.png").read_bytes().startswith(PNG_SIGNATURE)
