"""TLS on the gateway's own port (``gateway.tls_cert_file`` / ``gateway.tls_key_file``).

The listener stays a plain TCP socket; each accepted connection is handled by
``TlsProtocol``, eventlet.wsgi's protocol with a first step in the connection's own
greenlet: peek at the first byte. A TLS ClientHello starts with 0x16; then the handshake runs
(bounded by HANDSHAKE_TIMEOUT) and the request is served over TLS as usual. Anything else is
clear text sent to a TLS port: a ``GET /`` is redirected to the https:// console, every other
request gets a 400 that says to use https:// or wss://. Doing the handshake here, not in the
accept loop (what ``eventlet.wrap_ssl`` on the listener does), keeps one silent client from
stalling every other connection.
"""
from __future__ import annotations

import logging
import socket
import ssl
from typing import Any, Dict, Optional

import eventlet.wsgi
from eventlet.green import ssl as green_ssl

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
TLS_HANDSHAKE_RECORD = 0x16


class TlsConfigError(Exception):
    pass


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context for the certificate and key; TlsConfigError naming the file."""
    context: ssl.SSLContext = green_ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as e:
        raise TlsConfigError("gateway.tls_cert_file %s / tls_key_file %s: %s"
                             % (cert_file, key_file, getattr(e, "strerror", None) or e)) from None
    return context


def protocol_for(context: ssl.SSLContext) -> Any:
    """eventlet.wsgi's protocol class, serving every connection over ``context``."""
    return type("TlsProtocol", (TlsProtocol,), {"tls_context": context})


class TlsProtocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
    tls_context: ssl.SSLContext

    def __init__(self, conn_state: Any, server: Any) -> None:
        # conn_state is [address, socket, state] in eventlet 0.33 to 0.41; the server closes
        # whatever socket is in it when the connection ends, so the TLS one goes there.
        tls = self._secure(conn_state[1], conn_state[0])
        if tls is None:
            return
        conn_state[1] = tls
        super().__init__(conn_state, server)

    def _secure(self, raw: Any, address: Any) -> Optional[Any]:
        raw.settimeout(HANDSHAKE_TIMEOUT)
        try:
            first = raw.recv(1, socket.MSG_PEEK)
            if not first:
                return None
            if first[0] != TLS_HANDSHAKE_RECORD:
                refuse_clear_text(raw)
                return None
            tls = self.tls_context.wrap_socket(raw, server_side=True,
                                               do_handshake_on_connect=False)
            tls.do_handshake()
        except (OSError, ssl.SSLError, eventlet.Timeout) as e:
            log.debug("TLS handshake with %s failed: %s", address, e)
            return None
        tls.settimeout(None)
        return tls


def https_origin(app: Any) -> Any:
    """WSGI middleware: read ``Origin: http://HOST`` as ``https://HOST`` on this port.

    websocket-client 1.2 (bookworm's python3-websocket) sends an http:// Origin even for
    wss://, which Engine.IO's same-origin check would refuse. No page can come from
    http:// on a port that speaks only TLS, so the two are the same origin here.
    """
    def app_with_https_origin(environ: Dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST")
        if host and environ.get("HTTP_ORIGIN") == "http://" + host:
            environ["HTTP_ORIGIN"] = "https://" + host
        return app(environ, start_response)
    return app_with_https_origin


def refuse_clear_text(raw: Any) -> None:
    """Answer a clear-text request on the TLS port: a redirect for the console, else 400."""
    request = raw.recv(8192)
    line = request.split(b"\r\n", 1)[0].decode("latin-1", "replace").split()
    host = _header(request, b"host")
    if len(line) >= 2 and line[0] == "GET" and line[1] == "/" and host:
        status, extra, body = "301 Moved Permanently", "Location: https://%s/\r\n" % host, \
            "This robot serves https:// only: https://%s/\n" % host
    else:
        status, extra, body = "400 Bad Request", "", \
            "This port speaks TLS: connect with https:// or wss://, not http:// or ws://.\n"
    raw.sendall(("HTTP/1.1 %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                 % (status, extra, len(body), body)).encode("latin-1"))


def _header(request: bytes, name: bytes) -> str:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            text = value.strip().decode("latin-1", "replace")
            # Only a plain host[:port] goes into a Location header.
            return text if all(c.isalnum() or c in ".-:[]" for c in text) else ""
    return ""
