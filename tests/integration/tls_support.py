"""An appliance serving TLS with a fresh self-signed certificate (made as `robotctl tls
enable` makes it), and clients that trust that certificate as their CA file."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests
import socketio

from gateway.cli import certificate
from tests.appliance import Appliance

TOKEN = "tls-test-token"


def make_certificate(folder: Path) -> Path:
    """cert.pem and key.pem in ``folder``, for localhost and 127.0.0.1; returns the cert."""
    certificate.make(str(folder / "cert.pem"), str(folder / "key.pem"),
                     ["localhost"], ["127.0.0.1"])
    return folder / "cert.pem"


def start_tls_appliance(root: Path, token: Optional[str] = TOKEN,
                        executor: Optional[Dict[str, Any]] = None, **gateway: object) -> Appliance:
    """An appliance on https://localhost:PORT whose token is ``token`` (None: no token);
    ``app.cafile`` is its certificate, ``app.fingerprint`` the certificate's SHA-256."""
    cert = make_certificate(root)
    token_file = None
    if token is not None:
        (root / "token").write_text(token + "\n")
        token_file = str(root / "token")
    app = Appliance(root, gateway=dict({"tls_cert_file": str(cert),
                                        "tls_key_file": str(root / "key.pem"),
                                        "auth_token_file": token_file}, **gateway),
                    executor=executor or {})
    app.url = app.url.replace("http://", "https://").replace("127.0.0.1", "localhost")
    app.cafile = str(cert)
    app.fingerprint = certificate.fingerprint(str(cert))
    return app.start()


def tls_client(app: Appliance, **kwargs: object) -> socketio.Client:
    """A python-socketio client that verifies the gateway's certificate with its cafile."""
    session = requests.Session()
    session.verify = app.cafile
    session.trust_env = False       # $REQUESTS_CA_BUNDLE would replace the cafile
    return socketio.Client(reconnection=False, http_session=session, **kwargs)


@pytest.fixture
def tls_appliance(tmp_path) -> Iterator[Appliance]:
    app = start_tls_appliance(tmp_path)
    yield app
    app.stop()


@pytest.fixture
def tls_connect(tls_appliance) -> Iterator:
    """tls_connect(transports=("websocket",), **connect_kwargs) -> a connected client with
    the token; every one is closed at the end."""
    with contextlib.ExitStack() as opened:
        def make(transports=("websocket",), **kwargs) -> socketio.Client:
            client = tls_client(tls_appliance)
            kwargs.setdefault("auth", {"token": TOKEN})
            client.connect(tls_appliance.url, transports=list(transports), wait_timeout=30,
                           **kwargs)
            opened.callback(lambda: client.connected and client.disconnect())
            return client
        yield make
