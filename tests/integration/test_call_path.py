"""Every call gets its own answer, at once, whatever user code does (issue 9)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from tests.appliance import FIXTURES, b64, wait_for, zip_files
from tests.integration.conftest import call, ok, upload
from tests.rawsocketio import RawSocketIO

PROJECT = FIXTURES / "callpathbot" / "main.py"


def line_of(marker: str) -> int:
    lines = PROJECT.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text)


def started(client, project="callpathbot"):
    ok(upload(client, project))
    ok(client.call("start", {}, timeout=60))


@pytest.mark.config(executor={"max_execution_time": 120})
def test_base_exceptions_in_a_method_are_answered_at_once(client):
    started(client)
    began = time.monotonic()
    exited = call(client, "bot", "exit", {"code": 3}, timeout=30)
    assert exited["status"] == "error", exited
    assert exited["message"] == "SystemExit: 3 (main.py, line %d)" % line_of("EXIT LINE")
    assert exited["data"]["error"]["type"] == "SystemExit"
    assert exited["data"]["code"] == "user_exception"
    interrupted = call(client, "bot", "interrupt", timeout=30)
    assert interrupted["status"] == "error", interrupted
    assert interrupted["message"] == ("KeyboardInterrupt: pressed (main.py, line %d)"
                                      % line_of("INTERRUPT LINE"))
    assert interrupted["data"]["code"] == "user_exception"
    assert time.monotonic() - began < 20
    assert call(client, None, "ping")["data"] == "pong"


@pytest.mark.config(executor={"max_execution_time": 120})
def test_sys_exit_at_import_is_a_start_error(client):
    ok(client.call("update", {"data": b64(zip_files({"main.py": "import sys\n\nsys.exit(5)\n"}))},
                   timeout=60))
    reply = client.call("start", {}, timeout=30)
    assert reply["status"] == "error", reply
    assert reply["message"] == "cannot load the project: SystemExit: 5 (main.py, line 3)"
    assert reply["data"]["code"] == "load_failed"


@pytest.mark.config(executor={"max_execution_time": 120})
def test_sys_exit_in_a_stop_hook_is_reported_like_a_call_error(connect, appliance):
    hook = "import sys\n\n\nclass Motor:\n    def stop(self):\n        sys.exit(4)\n\n\nmotor = Motor()\n"
    first = connect(wait_timeout=30)
    ok(first.call("update", {"data": b64(zip_files({"main.py": hook}))}, timeout=60))
    ok(first.call("start", {}, timeout=30))
    first.disconnect()
    appliance.wait_log(r"motor\.stop\(\) raised SystemExit: 4 \(main\.py, line 6\)")
    appliance.wait_log(r"stop hooks had problems: SystemExit: 4 \(main\.py, line 6\)")
    second = connect(wait_timeout=30)
    reply = call(second, "motor", "stop")
    assert reply["message"] == "SystemExit: 4 (main.py, line 6)"
    assert reply["data"]["code"] == "user_exception"


def test_a_return_value_too_deep_for_json_is_an_error_at_once(client):
    started(client)
    for levels in (65, 3000):
        reply = call(client, "bot", "deep", {"levels": levels}, timeout=30)
        assert reply["status"] == "error", reply
        assert reply["message"] == ("the return value cannot be sent as JSON: it is nested "
                                    "deeper than 64 levels")
        assert reply["data"] == {"code": "not_json"}
    assert len(json.dumps(ok(call(client, "bot", "deep", {"levels": 64})))) == 128
    refused = ok(call(client, "bot", "push_deep", {"levels": 3000}))
    assert refused == ("TypeError: push_message('deep'): data cannot be sent as JSON: it is "
                       "nested deeper than 64 levels")
    assert ok(call(client, "bot", "push_deep", {"levels": 10})) == "pushed"


def raw_call(raw: RawSocketIO, ack_id: int, body: str, timeout: float = 30):
    """Send the event packet ``42<ack_id><body>`` and return the data of its ack."""
    raw.send_packet("42%d%s" % (ack_id, body))
    raw.sock.settimeout(timeout)
    while True:
        packet = raw.read_packet()
        if packet == "2":
            raw.send_packet("3")
        elif packet.startswith("43%d[" % ack_id):
            return json.loads(packet[len("43%d" % ack_id):])[0]


def test_payloads_nested_too_deeply_get_an_error_ack(appliance, client):
    started(client)
    client.disconnect()
    raw = RawSocketIO("127.0.0.1", appliance.port)
    try:
        # args [%s] inside {"params":{"args":…}}: the payload nests levels + 3 deep, so 62
        # is the first refused (65 levels) and 61 the deepest accepted (64): the bound exactly.
        for number, levels in enumerate((62, 65, 900, 10000), 1):
            args = "[" * levels + "]" * levels
            body = '["process",{"params":{"object":"bot","method":"echo","args":[%s]}}]' % args
            ack = raw_call(raw, number, body)
            assert ack == {"status": "error", "data": {"code": "invalid_payload"},
                           "message": "invalid payload: it is nested deeper than 64 levels"}
        for number, levels in ((8, 61), (9, 60)):
            ack = raw_call(raw, number, '["process",{"params":{"object":"bot","method":"echo",'
                                        '"args":[%s]}}]' % ("[" * levels + "]" * levels))
            assert ack["status"] == "success", ack
        deep_name = raw_call(raw, 10, "[" * 10000 + "]" * 10000)
        assert deep_name["status"] == "error", deep_name
        assert "nested deeper than 64 levels" in deep_name["message"]
        assert deep_name["data"] == {"code": "invalid_payload"}
    finally:
        raw.close()


@pytest.mark.config(executor={"max_calls_in_flight": 3, "max_execution_time": 1})
def test_calls_in_flight_are_bounded_and_shown(client):
    started(client)
    replies = []
    threads = [threading.Thread(target=lambda i=i: replies.append(
        call(client, "bot", "slow", {"tag": i, "seconds": 8}, timeout=30))) for i in range(3)]
    for thread in threads:
        thread.start()

    def in_flight():
        return client.call("status", {}, timeout=30)["data"]["executor"]["calls_in_flight"]
    wait_for(lambda: in_flight() == 3, 20, "three calls in flight")
    refused = call(client, None, "ping", timeout=10)
    assert refused["status"] == "error", refused
    assert refused["message"].startswith("too many calls in flight (3, "
                                         "executor.max_calls_in_flight)"), refused
    assert refused["data"] == {"code": "too_many_calls"}
    for thread in threads:
        thread.join(30)
    assert [r["status"] for r in replies] == ["error"] * 3, replies
    assert all("max_execution_time" in r["message"] for r in replies), replies
    assert [r["data"] for r in replies] == [{"code": "timeout"}] * 3, replies
    # Past their time limit the calls still run, and still count.
    assert in_flight() == 3
    wait_for(lambda: in_flight() == 0, 30, "the slow calls to end")
    assert call(client, None, "ping")["data"] == "pong"


def test_process_reaches_what_describe_lists_and_nothing_else(client):
    started(client)
    described = ok(client.call("describe", {}, timeout=30))
    assert [o["name"] for o in described["objects"]] == ["bot"]
    assert [f["name"] for f in described["functions"]] == ["nested", "ping"]
    for obj, method, args in [("os", "system", ["touch /tmp/robotctl-must-not-exist"]),
                              ("os", "getpid", None), ("threading", "enumerate", None),
                              ("sys", "exit", None), (None, "dumps", [1]),
                              (None, "_hidden", None), ("bot", "_private", None),
                              ("bot", "__class__", None), ("Bot", "echo", None),
                              (None, "push_message", ["tick", 1])]:
        reply = call(client, obj, method, args)
        assert reply["status"] == "error", (obj, method, reply)
        assert reply["data"]["code"] == ("unknown_method" if obj in (None, "bot")
                                         else "unknown_object"), reply
        assert "callable are the objects bot and the functions nested, ping" in reply["message"] \
            or "its methods are: crash_thread, deep, echo" in reply["message"], reply
    assert ok(call(client, "bot", "echo", {"value": 5})) == 5
    assert ok(call(client, None, "ping")) == "pong"


def test_an_observer_describe_never_imports_the_project(connect, appliance):
    controller = connect(wait_timeout=30)
    marker = "print('IMPORTED', flush=True)\n\n\nclass A:\n    def go(self):\n        return 1\n\n\na = A()\n"
    ok(controller.call("update", {"data": b64(zip_files({"main.py": marker}))}, timeout=60))
    observer = connect(auth={"role": "observer"}, wait_timeout=30)
    described = observer.call("describe", {}, timeout=30)
    assert described["status"] == "success", described
    assert described["data"]["loaded"] is False
    assert described["data"]["project"]["loaded"] is False
    assert described["data"]["objects"] == [] and described["data"]["functions"] == []
    assert observer.call("status", {}, timeout=30)["data"]["executor"]["project"]["loaded"] is False
    assert appliance.count("IMPORTED") == 0
    # The controller's describe loads it, as before; then the observer sees it all.
    assert [o["name"] for o in ok(controller.call("describe", {}, timeout=30))["objects"]] == ["a"]
    assert [o["name"] for o in ok(observer.call("describe", {}, timeout=30))["objects"]] == ["a"]
    assert appliance.count("IMPORTED") == 1
