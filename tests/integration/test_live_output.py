"""What a frontend sees without asking: live output, server_info; and describe, status."""
from __future__ import annotations

import re
import time

import shared
from tests.appliance import wait_for
from tests.integration.conftest import call, upload

INFO, LOG, DROPPED = "robotctl:server_info", "robotctl:log", "robotctl:log_dropped"


def lines(received, stream=None):
    return [entry["text"] for entry in received if stream in (None, entry["stream"])]


def test_project_output_reaches_clients_and_the_journal(connect, appliance):
    client = connect(events=(LOG,), wait_timeout=30)
    observer = connect(auth={"role": "observer"}, events=(LOG,), wait_timeout=30)
    assert upload(client, "outputbot")["status"] == "success"
    # Clients connected across the update; the new executor captures from its start.
    assert call(client, None, "say", {"text": "hello from print"})["status"] == "success"
    assert call(client, None, "complain", {"text": "hello from stderr"})["status"] == "success"
    assert call(client, None, "child", {"text": "from child"})["data"] == 0
    assert call(client, None, "raw", {"text": "raw write"})["status"] == "success"

    expected = [("stdout", "hello from print"), ("stderr", "hello from stderr"),
                ("stdout", "from child"), ("stdout", "raw write")]
    for who in (client, observer):
        received = who.received[LOG]
        wait_for(lambda: all(text in lines(received, stream) for stream, text in expected),
                 30, "every line as robotctl:log")
        for entry in received:
            assert set(entry) == {"stream", "text", "time"}, entry
            assert abs(entry["time"] - time.time()) < 120, entry
    # The journal (here: the appliance's output) still gets every line.
    for _, text in expected:
        appliance.wait_log(re.escape(text), 1)
    # Not the executor's own log lines: those stay in the journal only.
    assert not [t for t in lines(client.received[LOG]) if "executor.service" in t]


def test_a_flood_is_limited_to_200_lines_per_second_and_drops_are_counted(connect, appliance):
    client = connect(events=(LOG, DROPPED), wait_timeout=30)
    assert upload(client, "outputbot")["status"] == "success"
    assert call(client, None, "flood", {"count": 1000})["data"] == 1000
    logs, dropped = client.received[LOG], client.received[DROPPED]
    markers = []

    def reported():
        # A later line, once the second is over, carries the count of what was dropped.
        markers.append("marker %d" % len(markers))
        call(client, None, "say", {"text": markers[-1]})
        return dropped and any(t.startswith("marker") for t in lines(logs))
    wait_for(reported, 30, "robotctl:log_dropped")
    # Markers after the first one shown start a fresh second: all of them are shown.
    wait_for(lambda: markers[-1] in lines(logs), 10, "the last marker")
    flood = [e for e in logs if e["text"].startswith("flood ")]
    shown = len(flood) + len([t for t in lines(logs) if t.startswith("marker")])
    total_dropped = sum(d["count"] for d in dropped)
    assert all(isinstance(d["count"], int) and d["count"] > 0 for d in dropped), dropped
    assert shown + total_dropped == 1000 + len(markers), (shown, total_dropped, len(markers))
    assert 0 < len(flood) < 1000 and total_dropped > 0
    first = flood[0]["time"]
    assert len([e for e in flood if e["time"] < first + 1.0]) <= 200
    span = logs[-1]["time"] - first
    assert len(logs) <= 200 * (int(span) + 2), (len(logs), span)
    # In order, and every line went to the journal, dropped or not.
    numbers = [int(e["text"].split()[1]) for e in flood]
    assert numbers == sorted(numbers)
    wait_for(lambda: set(int(n) for n in re.findall(r"flood (\d+)", appliance.log)) == set(
        range(1000)), 30, "all 1000 lines in the journal")


def test_server_info_arrives_right_after_connect(connect, appliance):
    client = connect(events=(INFO,), wait_timeout=30)
    observer = connect(auth={"role": "observer"}, events=(INFO,), wait_timeout=30)
    wait_for(lambda: client.received[INFO] and observer.received[INFO], 10, "server_info")
    info = client.received[INFO][0]
    assert info["version"] == shared.__version__
    assert isinstance(info["executor_instance"], str) and info["executor_instance"]
    project = info["project"]
    assert project["name"] == "default" and project["origin"] == "default"
    assert re.fullmatch(r"[0-9a-f]{64}", project["sha256"]), project
    assert info["last_restart"]["reason"] == "boot"
    assert info["role"] == "controller" and info["auth_required"] is False
    assert info["controller"]["address"] and info["controller"]["since"]
    seen = observer.received[INFO][0]
    assert seen["role"] == "observer" and seen["controller"] == info["controller"]
    assert seen["executor_instance"] == info["executor_instance"]
    assert len(client.received[INFO]) == 1      # once, not once per emit path

    status = client.call("status", {}, timeout=30)
    assert status["status"] == "success", status
    data = status["data"]
    assert data["version"] == shared.__version__
    assert data["gateway"]["uptime"] > 0 and data["gateway"]["pid"] > 0
    assert data["executor"]["instance"] == info["executor_instance"]
    assert data["executor"]["version"] == shared.__version__
    assert data["executor"]["uptime"] > 0 and data["executor"]["pid"] == appliance.executor_pid()
    assert data["executor"]["project"]["sha256"] == project["sha256"]
    assert data["controller"] == info["controller"] and data["observers"] == 1
    assert data["last_restart"]["reason"] == "boot"


def test_server_info_tells_a_late_joiner_that_the_project_is_loaded(connect, appliance):
    client = connect(wait_timeout=30)
    assert upload(client, "testbot")["status"] == "success"
    assert client.call("start", {}, timeout=60)["data"]["loaded"] is True
    assert client.call("status", {}, timeout=30)["data"]["executor"]["project"]["loaded"]
    late = connect(auth={"role": "observer"}, events=(INFO,), wait_timeout=30)
    wait_for(lambda: late.received[INFO], 10, "server_info")
    assert late.received[INFO][0]["project"]["loaded"] is True, late.received[INFO][0]


def by_name(items):
    return {item["name"]: item for item in items}


def test_describe_the_default_project(client):
    reply = client.call("describe", {}, timeout=60)
    assert reply["status"] == "success", reply
    data = reply["data"]
    assert data["project"]["name"] == "default" and data["project"]["loaded"] is True
    objects = by_name(data["objects"])
    assert set(objects) == {"sport_client"}, list(objects)       # no Optional, Dict, math…
    assert not {"Optional", "Dict", "Any", "Tuple", "math", "threading"} & set(
        by_name(data["functions"]))
    sport = objects["sport_client"]
    assert sport["type"] == "SportClient"
    assert sport["doc"].startswith("Simulated Unitree SportClient")
    methods = by_name(sport["methods"])
    assert {"StandUp", "StandDown", "BalanceStand", "RecoveryStand", "Damp", "Sit", "StopMove",
            "Move", "Euler", "SpeedLevel", "GetState"} <= set(methods)
    assert not [name for name in methods if name.startswith("_")]
    move = methods["Move"]
    assert move["signature"].startswith("(vx: float, vy: float, vyaw: float)"), move
    assert move["doc"] == ("Walk at vx, vy (m/s) turning at vyaw (rad/s), clamped; needs a "
                           "standing posture.")
    assert move["parameters"][0] == {"name": "vx", "kind": "POSITIONAL_OR_KEYWORD",
                                     "annotation": "float", "default": None, "required": True}
    assert [p["name"] for p in move["parameters"]] == ["vx", "vy", "vyaw"]
    assert methods["GetState"]["doc"] == "Return the whole robot state as a dict."
    assert methods["StandUp"]["signature"].startswith("()")


def test_describe_testbot_lists_methods_and_functions(client):
    assert upload(client, "testbot")["status"] == "success"
    data = client.call("describe", {}, timeout=60)["data"]       # loads the project itself
    assert data["project"]["loaded"] is True
    objects = by_name(data["objects"])
    assert "bot" in objects and "value" not in objects and "NotAnInstance" not in objects
    assert objects["bot"]["type"] == "Bot"
    methods = by_name(objects["bot"]["methods"])
    assert {"echo", "add", "incr", "state", "sleep", "burst", "stop"} <= set(methods)
    assert methods["add"]["signature"] == "(a, b=0)"
    assert methods["add"]["parameters"][1] == {"name": "b", "kind": "POSITIONAL_OR_KEYWORD",
                                              "annotation": None, "default": "0",
                                              "required": False}
    assert methods["echo"]["signature"] == "(*args, **kwargs)"
    functions = by_name(data["functions"])
    assert {"ping", "stop_count"} <= set(functions)
    assert functions["ping"]["signature"] == "()" and functions["ping"]["parameters"] == []
    assert not {"math", "os", "signal", "threading", "time", "helper"} & (
        set(functions) | set(objects))
    assert call(client, "bot", "incr")["data"] == 1       # describing ran nothing of bot


def test_describe_runs_no_property_and_no_getattr(client):
    assert upload(client, "describebot")["status"] == "success"
    reply = client.call("describe", {}, timeout=60)
    assert reply["status"] == "success", reply
    objects = by_name(reply["data"]["objects"])
    assert set(objects) == {"sensor", "anything"}, list(objects)
    sensor = objects["sensor"]
    assert sensor["doc"] == "A sensor with a property that must not be evaluated."
    methods = by_name(sensor["methods"])
    assert set(methods) == {"read", "units", "create"}, list(methods)
    read = methods["read"]
    assert read["signature"].startswith("(channel: int = 0, *, scale: float = 1.0)"), read
    assert read["doc"] == "Read one channel, scaled."
    assert [(p["name"], p["kind"], p["default"], p["required"]) for p in read["parameters"]] == [
        ("channel", "POSITIONAL_OR_KEYWORD", "0", False), ("scale", "KEYWORD_ONLY", "1.0", False)]
    assert methods["units"]["signature"].startswith("()")
    assert methods["create"]["signature"] == "(name: str = 's1')"
    assert [m["name"] for m in objects["anything"]["methods"]] == ["real"]
    assert set(by_name(reply["data"]["functions"])) == {"evaluated"}
    assert call(client, None, "evaluated")["data"] == []
    assert call(client, "sensor", "read", {"channel": 2})["data"] == 2
