"""A frontend served from another origin, in headless Chromium (issue 11): what a listed
origin, an unlisted one and the console see. See tests/browser/origins.mjs."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from typing import Iterator

import pytest

from tests.appliance import REPO, Appliance, free_port
from tests.browser.test_console import CHROMIUM, CONSOLE, console_built  # noqa: F401 (fixture)

HERE = os.path.dirname(os.path.abspath(__file__))

PAGE = """<!doctype html><meta charset="utf-8"><title>frontend</title>
<script src="socket.io.min.js"></script>
<script>
  const robot = new URLSearchParams(location.search).get("robot");
  const socket = io(robot, { reconnection: false, timeout: 20000 });
  socket.on("connect", () => { window.outcome = "connected"; });
  socket.on("connect_error", (err) => { window.outcome = err.message; });
</script>
"""


class Frontend:
    """A web app served from http://127.0.0.1:<port>/, as a developer's laptop serves it."""

    def __init__(self, root):
        root.mkdir()
        shutil.copy(str(CONSOLE / "vendor" / "socket.io.min.js"), str(root))
        (root / "index.html").write_text(PAGE)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *args: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def frontends(tmp_path) -> Iterator:
    started = []

    def make(name: str) -> Frontend:
        frontend = Frontend(tmp_path / name)
        started.append(frontend)
        return frontend
    yield make
    for frontend in started:
        frontend.close()


def test_listed_origins_connect_and_others_see_a_cors_error(console_built, frontends, tmp_path):  # noqa: F811
    listed = frontends("listed")
    unlisted = frontends("unlisted")
    (tmp_path / "robot").mkdir()
    appliance = Appliance(tmp_path / "robot", gateway={"cors_allowed_origins": [listed.url]})
    appliance.start()
    try:
        query = "/?robot=" + appliance.url
        env = dict(os.environ, LISTED_URL=listed.url + query, UNLISTED_URL=unlisted.url + query,
                   ROBOT_URL=appliance.url, CHROMIUM=CHROMIUM)
        run = subprocess.run(["node", os.path.join(HERE, "origins.mjs")], cwd=str(REPO), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=300)
        assert run.returncode == 0 and "origins: ok" in run.stdout, run.stdout + appliance.log[-3000:]
        assert appliance.count(r"refused \S+: origin \(Origin %s;" % unlisted.url) == 1, appliance.log
    finally:
        appliance.stop()
