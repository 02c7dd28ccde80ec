"""Which browser pages and Host names reach the gateway (issue 11).

Listed origins are allowed in addition to the gateway's own pages and to clients that send
no Origin; a refused origin is logged once with the key to set; "*" needs a token; without
a token, a Host that is not this machine is refused (DNS rebinding).
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import requests
import socketio

from tests.appliance import FIXTURES, REPO
from tests.integration.cli_helpers import ok, robotctl

POLLING = "/socket.io/?EIO=4&transport=polling"
UI = "http://ui.example:5173"
REFUSED_ORIGIN = r"refused \S+: origin \(Origin http://evil\.example; .*gateway\.cors_allowed_origins"


def poll(appliance, **headers: str) -> requests.Response:
    return requests.get(appliance.url + POLLING, headers=headers, timeout=30)


@pytest.mark.config(gateway={"cors_allowed_origins": [UI]})
def test_listed_origins_add_to_the_gateways_own_pages(appliance):
    # The console served by the gateway itself.
    console = poll(appliance, Origin=appliance.url)
    assert console.status_code == 200, (console.status_code, console.text)
    assert console.headers["Access-Control-Allow-Origin"] == appliance.url
    # The listed frontend.
    frontend = poll(appliance, Origin=UI)
    assert frontend.status_code == 200 and frontend.headers["Access-Control-Allow-Origin"] == UI
    # The README's python-socketio quick start (its websocket sends the gateway's own origin).
    client = socketio.Client(reconnection=False)
    client.connect(appliance.url, transports=["websocket"], wait_timeout=30)
    try:
        assert client.call("status", {}, timeout=30)["status"] == "success"
    finally:
        client.disconnect()
    # The CLI: looking, calling and deploying.
    assert "default" in ok(robotctl(appliance.url, "status"))
    assert "standing" in ok(robotctl(appliance.url, "call", "sport_client", "StandUp"))
    ok(robotctl(appliance.url, "deploy", str(FIXTURES / "testbot")))


@pytest.mark.config(gateway={"cors_allowed_origins": [UI]})
def test_a_refused_origin_is_logged_once_with_the_key_to_set(appliance):
    for _ in range(3):
        refused = poll(appliance, Origin="http://evil.example")
        assert refused.status_code == 400, (refused.status_code, refused.text)
        assert "Access-Control-Allow-Origin" not in refused.headers
    other = poll(appliance, Origin="http://other.example")
    assert other.status_code == 400
    appliance.wait_log(r"refused \S+: origin \(Origin http://other\.example", 1)
    assert appliance.count(REFUSED_ORIGIN) == 1, appliance.log
    assert appliance.count(r"WARNING gateway\.access_log: refused \S+: origin") == 2, appliance.log


@pytest.mark.config(gateway={"cors_allowed_origins": "*"}, token="t0ken")
def test_any_origin_with_a_token(appliance):
    for origin in ("http://evil.example", UI):
        allowed = poll(appliance, Origin=origin)
        assert allowed.status_code == 200 and \
            allowed.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origins", ["*", ["http://ui.example", "*"]])
def test_any_origin_without_a_token_is_refused_at_start_up(tmp_path, origins):
    config = tmp_path / "robotctl.yaml"
    config.write_text("gateway:\n  auth_token_file: null\n  cors_allowed_origins: %s\n"
                      % json.dumps(origins))
    result = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config)],
                            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 78, result.stdout
    assert 'gateway.cors_allowed_origins: "*"' in result.stdout, result.stdout
    assert "token" in result.stdout and "gateway.auth_token_file" in result.stdout


def test_without_a_token_a_foreign_host_is_refused(appliance):
    port = appliance.port
    rebound = poll(appliance, Host="attacker.example:%d" % port,
                   Origin="http://attacker.example:%d" % port)
    assert rebound.status_code == 403, (rebound.status_code, rebound.text)
    page = requests.get(appliance.url + "/", headers={"Host": "attacker.example:%d" % port},
                        timeout=30)
    assert page.status_code == 403
    appliance.wait_log(r"refused \S+: host \(Host attacker\.example:%d; .*gateway\.allowed_hosts"
                       % port)
    hostname = socket.gethostname()
    for host in ("127.0.0.1", "localhost", "[::1]", "192.168.1.20", hostname,
                 hostname.split(".")[0] + ".local"):
        served = poll(appliance, Host="%s:%d" % (host, port))
        assert served.status_code == 200, (host, served.status_code, served.text)


@pytest.mark.config(gateway={"allowed_hosts": ["robot.lab.example"]})
def test_allowed_hosts_adds_names(appliance):
    served = poll(appliance, Host="robot.lab.example:%d" % appliance.port,
                  Origin="http://robot.lab.example:%d" % appliance.port)
    assert served.status_code == 200, (served.status_code, served.text)


@pytest.mark.config(token="t0ken")
def test_with_a_token_any_host_is_served(appliance):
    served = poll(appliance, Host="robot.lab.example:%d" % appliance.port)
    assert served.status_code == 200, (served.status_code, served.text)
