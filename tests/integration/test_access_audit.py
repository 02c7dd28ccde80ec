"""Throttled and audited access: refusals logged with a reason word, lockout after too many
wrong tokens, notices for controllers and takeovers, and token rotation without a restart."""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.appliance import wait_for
from tests.integration.conftest import call, ok
from tests.integration.test_access import refused

TOKEN = "audit-token"
TAKEN = "robotctl:session_taken"


def refused_together(appliance, auth, count):
    """``count`` refused connections at once (python-socketio 5.7.2 waits out each refusal)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: refused(appliance, auth), range(count)))


@pytest.mark.config(token=TOKEN, gateway={"lockout_failures": 3, "lockout_seconds": 10.0})
def test_wrong_tokens_lock_the_address_out_then_let_it_in(connect, appliance):
    for error in refused_together(appliance, {"token": "wrong"}, 3):
        assert error["data"] == {"code": "unauthorized"}
    appliance.wait_log(r"locking out 127\.0\.0\.1 for 10 s: 3 failed tokens")
    assert appliance.count(r"refused 127\.0\.0\.1:\d+: unauthorized") == 3
    # Locked out: even the right token is refused, and no line is logged per refusal.
    for error in refused_together(appliance, {"token": TOKEN}, 2):
        assert "too many wrong tokens" in error["message"]
    assert appliance.count(r"refused 127\.0\.0\.1:\d+: unauthorized") == 3
    appliance.wait_log(r"lockout of 127\.0\.0\.1 ended; 2 connection\(s\) refused during it",
                       timeout=40)
    client = connect(auth={"token": TOKEN}, wait_timeout=30)
    assert ok(call(client, "sport_client", "GetState")) is not None


@pytest.mark.config(token=TOKEN)
def test_refusals_and_controllers_are_audited(connect, appliance):
    holder = connect(auth={"token": TOKEN}, wait_timeout=30)
    appliance.wait_log(r"NOTICE gateway\.handlers: controller 127\.0\.0\.1:\d+ connected")
    error = refused(appliance, {"token": TOKEN})
    assert error["data"]["code"] == "busy"
    appliance.wait_log(r"WARNING gateway\.access_log: refused 127\.0\.0\.1:\d+: busy "
                       r"\(127\.0\.0\.1:\d+ controls the robot\)")
    connect(auth={"token": TOKEN, "takeover": "fresh-id"}, wait_timeout=30)
    appliance.wait_log(r"NOTICE gateway\.sessions: 127\.0\.0\.1:\d+ took over the robot")
    wait_for(lambda: not holder.connected, 30, "the evicted controller to go")


@pytest.mark.config(token=TOKEN)
def test_rotated_token_disconnects_old_clients_and_admits_the_new(connect, appliance,
                                                                  tmp_path):
    controller = connect(auth={"token": TOKEN}, events=(TAKEN,), wait_timeout=30)
    observer = connect(auth={"token": TOKEN, "role": "observer"}, events=(TAKEN,),
                       wait_timeout=30)
    token_file = tmp_path / "token"
    fresh = tmp_path / "token.new"
    fresh.write_text("rotated-token\n")
    os.replace(str(fresh), str(token_file))      # as `robotctl token --rotate` writes it
    for client in (controller, observer):
        wait_for(lambda: client.received[TAKEN], 30, "session_taken")
        assert client.received[TAKEN][0]["reason"] == "token rotated"
        wait_for(lambda: not client.connected, 30, "the old-token client to be disconnected")
    error = refused(appliance, {"token": TOKEN})
    assert error["data"] == {"code": "unauthorized"}
    client = connect(auth={"token": "rotated-token"}, wait_timeout=30)
    assert ok(call(client, "sport_client", "GetState")) is not None
    assert re.search(r"access token changed; disconnecting 2 client", appliance.log)
    assert appliance.count(r"listening on") == 1        # no restart
