"""The console and the official JavaScript client over https:// / wss:// with a self-signed
certificate: node trusts it as an extra CA, Chromium by its public key's SPKI hash."""
from __future__ import annotations

import os
import subprocess
from typing import Iterator

import pytest

from tests.appliance import FIXTURES, REPO, Appliance, zip_dir
from tests.browser.test_console import (ARTIFACTS, CHROMIUM, CONSOLE, HERE, check_png,
                                        console_built, project_zip)  # noqa: F401 (fixture)
from tests.integration.tls_support import TOKEN, start_tls_appliance


@pytest.fixture
def tls_appliance(tmp_path) -> Iterator[Appliance]:
    (tmp_path / "robot").mkdir()
    # The console test's short time limit: a call runs past it (the timeout's hint).
    app = start_tls_appliance(tmp_path / "robot", token=None, executor={"max_execution_time": 6})
    yield app
    app.stop()


def spki_hash(cert: str) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): what --ignore-certificate-errors-spki-list takes."""
    return subprocess.run(
        "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform der "
        "| openssl dgst -sha256 -binary | base64" % cert, shell=True, check=True,
        stdout=subprocess.PIPE, text=True).stdout.strip()


def test_console_over_https(console_built, tls_appliance, tmp_path):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ, CONSOLE_URL=tls_appliance.url + "/",
               ZIP_PATH=str(project_zip(tmp_path / "testbot.zip")), ARTIFACTS=str(ARTIFACTS),
               CHROMIUM=CHROMIUM, CHROMIUM_ARGS="--ignore-certificate-errors-spki-list="
               + spki_hash(tls_appliance.cafile))
    run = subprocess.run(["node", str(HERE / "console_e2e.mjs")], cwd=str(REPO), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert run.returncode == 0, "console_e2e.mjs over https failed:\n%s\n---\n%s" % (
        run.stdout[-6000:], tls_appliance.log[-4000:])
    check_png(ARTIFACTS / "controller.png")


def test_readme_client_over_wss(console_built, tmp_path):  # noqa: F811
    (tmp_path / "robot").mkdir()
    app = start_tls_appliance(tmp_path / "robot")
    try:
        project = tmp_path / "testbot.zip"
        project.write_bytes(zip_dir(FIXTURES / "testbot"))
        env = dict(os.environ, ROBOT_URL=app.url, ROBOT_TOKEN=TOKEN, ZIP_PATH=str(project),
                   CONSOLE_DIR=str(CONSOLE), NODE_EXTRA_CA_CERTS=app.cafile)
        run = subprocess.run(["node", str(HERE / "readme_client.mjs")], cwd=str(REPO), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=180)
        assert run.returncode == 0, run.stdout + "\n" + app.log[-3000:]
        assert "readme client: ok" in run.stdout
    finally:
        app.stop()
