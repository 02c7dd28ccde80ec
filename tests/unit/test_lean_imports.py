"""gateway.lean_imports: the gateway's imports leave the client libraries out, and the
Socket.IO server still works. Each check runs in a fresh interpreter (the same one as the
test run, so both the venv and Debian's python3 are covered)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.appliance import REPO

PROBE = textwrap.dedent("""
    import json, sys, threading
    from gateway import lean_imports
    lean_imports.install()
    lean_imports.install()          # idempotent
    import eventlet, eventlet.wsgi
    import socketio
    import gateway.server           # everything the gateway process imports
    sio = socketio.Server(async_mode="eventlet")
    sio.on("echo", lambda sid, data: data)
    app = socketio.WSGIApp(sio)
    refused = []
    try:
        import requests
    except ImportError:
        refused.append("requests")
    print(json.dumps({
        "loaded": sorted(n for n in ("requests", "websocket", "aiohttp", "OpenSSL", "dns")
                         if n in sys.modules),
        "refused": refused,
        "greendns": __import__("os").environ.get("EVENTLET_NO_GREENDNS"),
        "finders": sum(type(f).__name__ == "RefuseImports" for f in sys.meta_path),
    }))
""")


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=str(REPO),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_gateway_imports_leave_client_libraries_out():
    result = run(PROBE)
    assert result["loaded"] == []
    assert result["refused"] == ["requests"]
    assert result["greendns"] == "yes"
    assert result["finders"] == 1


def test_the_gateways_entry_point_imports_no_eventlet_before_it_installs_the_refusals():
    """``python3 -m gateway`` imports its module-level imports before ``main`` installs
    lean_imports: none of them may import eventlet (it would load pyOpenSSL and dnspython)."""
    result = run("import json, sys; import gateway.__main__; "
                 "print(json.dumps({'early': sorted(n for n in ('eventlet', 'socketio', 'ssl') "
                 "if n in sys.modules)}))")
    assert result["early"] == []


SERVE = textwrap.dedent("""
    import json, socket, sys
    from gateway import lean_imports
    lean_imports.install()
    import eventlet, eventlet.wsgi
    import socketio
    sio = socketio.Server(async_mode="eventlet")
    sio.on("echo", lambda sid, data: {"echo": data})
    listener = eventlet.listen(("127.0.0.1", 0))
    eventlet.spawn(eventlet.wsgi.server, listener, socketio.WSGIApp(sio), log_output=False)
    print(json.dumps({"port": listener.getsockname()[1],
                      "loaded": sorted(n for n in ("requests", "websocket", "aiohttp")
                                       if n in sys.modules)}), flush=True)
    eventlet.sleep(60)
""")


def test_socketio_server_still_serves_a_client():
    server = subprocess.Popen([sys.executable, "-W", "ignore", "-c", SERVE], cwd=str(REPO),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        started = json.loads(server.stdout.readline())
        assert started["loaded"] == []
        import socketio       # this process may use the client libraries: it is no gateway
        client = socketio.Client(reconnection=False)
        client.connect("http://127.0.0.1:%d" % started["port"], transports=["websocket"])
        try:
            assert client.call("echo", {"x": [1, 2]}, timeout=10) == {"echo": {"x": [1, 2]}}
        finally:
            client.disconnect()
    finally:
        server.kill()
        server.wait()


def test_executor_imports_leave_the_environment_builder_out():
    """pip_install and subprocess load only when an upload builds an environment (or a
    large release is verified), not at every executor start: idle RSS."""
    result = run("import json, sys\nimport executor.service, executor.__main__\n"
                 "print(json.dumps(sorted(n for n in ('subprocess', 'executor.pip_install')"
                 " if n in sys.modules)))\n")
    assert result == []
