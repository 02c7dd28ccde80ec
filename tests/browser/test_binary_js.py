"""Binary payloads with the official JavaScript socket.io-client in node: binary update,
nested binary pushes, binary process returns and args arrive as Buffers / bytes."""
from __future__ import annotations

import os
import subprocess

from tests.appliance import FIXTURES, REPO, zip_dir
from tests.browser.test_console import CONSOLE, appliance, console_built  # noqa: F401 (fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))


def test_binary_both_ways_with_the_javascript_client(console_built, appliance, tmp_path):  # noqa: F811
    project = tmp_path / "binarybot.zip"
    project.write_bytes(zip_dir(FIXTURES / "binarybot"))
    env = dict(os.environ, ROBOT_URL=appliance.url, ZIP_PATH=str(project), CONSOLE_DIR=str(CONSOLE))
    run = subprocess.run(["node", os.path.join(HERE, "binary_client.mjs")], cwd=str(REPO),
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stdout + "\n" + appliance.log[-3000:]
    assert "binary client: ok" in run.stdout
