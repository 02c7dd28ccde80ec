"""The fast path of ``process`` (gateway/fast_calls.py): one answer per call, whatever the
reply, the client or the executor does; everything it does not take goes the stock way."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List

import pytest
import socketio
import yaml
import zmq

from shared import messages, sockets
from tests.appliance import REPO, free_port, wait_for
from tests.integration.conftest import call, ok, upload
from tests.integration.test_call_path import raw_call, started
from tests.rawsocketio import RawSocketIO


def process(method: str, **args: Any) -> str:
    return json.dumps(["process", {"params": {"object": "bot", "method": method, "args": args}}])


# -- a real gateway with a stand-in executor (plain ZeroMQ in the test) ------------------------

class StandIn:
    """Says Hello like an executor and answers each request with ``answer(request)``: the
    raw header of its Reply (bypassing the executor's own checks), or None for no reply."""

    def __init__(self, ipc: Dict[str, str], answer: Callable[[messages.Request], Any]):
        section = SimpleNamespace(**ipc)     # what open_socket reads of the ipc section
        self.context = zmq.Context()
        self.command = sockets.open_socket(self.context, "executor.command", section,
                                           routing_id=b"standin")
        self.callback = sockets.open_socket(self.context, "executor.callback", section)
        self.answer, self.requests = answer, []    # type: ignore[var-annotated]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "StandIn":
        hello = messages.Hello("standin", os.getpid(), "test", {"name": "standin"},
                               {"reason": "start", "detail": None, "time": None})
        self.command.send_multipart(hello.to_frames())
        self.thread.start()
        return self

    def _serve(self) -> None:
        while not self.stopped.is_set():
            if not self.command.poll(100):
                continue
            message = messages.decode(self.command.recv_multipart())
            if not isinstance(message, messages.Request):
                continue
            self.requests.append(message)
            header = self.answer(message)
            if header is not None:
                self.callback.send(json.dumps(dict(header, t="reply", id=message.id)).encode())

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.context.destroy(linger=0)


@pytest.fixture
def lone_gateway(tmp_path: Path) -> Iterator[Any]:
    """A gateway alone (no supervisor, no executor): (url, ipc section, its output)."""
    sockdir = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))     # ipc paths are short
    ipc = {"command_socket": "ipc://%s/cmd.ipc" % sockdir,
           "callback_socket": "ipc://%s/cb.ipc" % sockdir}
    port = free_port()
    config = tmp_path / "robotctl.yaml"
    config.write_text(yaml.safe_dump({
        "gateway": {"host": "127.0.0.1", "port": port, "auth_token_file": None},
        "executor": {"projects_dir": str(tmp_path / "projects"), "max_execution_time": 1},
        "ipc": ipc}))
    output: List[str] = []
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config)], cwd=str(REPO),
        env=dict(os.environ, PYTHONPATH=str(REPO), ROBOTCTL_CHECK_CALLBACKS="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    threading.Thread(target=lambda: output.extend(gateway.stdout), daemon=True).start()  # type: ignore[arg-type]
    try:
        wait_for(lambda: "listening" in "".join(output), 30, "the gateway")
        yield "http://127.0.0.1:%d" % port, ipc, output
    finally:
        gateway.terminate()
        gateway.wait(20)
        shutil.rmtree(str(sockdir), ignore_errors=True)


def connect(url: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=30)
    return client


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_a_reply_the_gateway_cannot_send_still_gets_one_ack(lone_gateway):
    url, ipc, output = lone_gateway

    def answer(request):
        method = request.args.get("method")     # None: client_left, once the client leaves
        if method == "deep":          # what the executor itself would refuse to send
            return {"status": "success", "message": "deep", "data": deep(70)}
        if method == "silent":        # a wedged executor
            return None
        return {"status": "success", "message": "ok", "data": method}

    standin = StandIn(ipc, answer).start()
    try:
        client = connect(url)
        wait_for(lambda: "executor standin is up" in "".join(output), 30, "the Hello")
        replies: List[Any] = []
        client.emit("process", {"params": {"method": "silent"}}, callback=replies.append)
        reply = client.call("process", {"params": {"method": "deep"}}, timeout=30)
        assert reply == {"status": "error", "data": {"code": "not_json"},
                         "message": "the reply cannot be sent as JSON: it is nested deeper "
                                    "than 64 levels"}
        assert client.call("process", {"params": {"method": "next"}}, timeout=30) == {
            "status": "success", "message": "ok", "data": "next"}
        # No reply at all: the gateway answers at max_execution_time + its margin (1 + 5 s).
        wait_for(lambda: replies, 30, "the timeout of the silent call")
        assert replies == [{"status": "error", "data": {"code": "timeout"},
                            "message": "no reply from the executor within 6 s"}]
        time.sleep(0.5)      # a second answer to the same call would arrive by now
        assert len(replies) == 1
        client.disconnect()
        # client_left follows the disconnect, at any moment from here on.
        assert [r.args["method"] for r in standin.requests
                if r.command == "process"] == ["silent", "deep", "next"]
    finally:
        standin.stop()
    assert "Traceback" not in "".join(output)
    assert "stock path" not in "".join(output)       # fast_calls.install found what it needs


def test_a_quick_call_is_answered_while_slow_ones_run(appliance, client):
    started(client)
    client.disconnect()
    raw = RawSocketIO("127.0.0.1", appliance.port)
    try:
        for number in range(1, 4):        # slow calls, their acks not awaited
            raw.send_packet("42%d%s" % (number, process("slow", tag=number, seconds=3)))
        began = time.monotonic()
        quick = raw_call(raw, 9, process("echo", value="quick"))
        assert quick == {"status": "success", "message": "bot.echo returned", "data": "quick"}
        assert time.monotonic() - began < 2.0
        acks = {}
        raw.sock.settimeout(30)
        while len(acks) < 3:
            packet = raw.read_packet()
            if packet == "2":
                raw.send_packet("3")
            elif packet.startswith("43"):
                number, body = packet[2], json.loads(packet[3:])[0]
                acks[int(number)] = body
        assert acks == {n: {"status": "success", "message": "bot.slow returned", "data": n}
                        for n in (1, 2, 3)}
    finally:
        raw.close()


def test_a_client_that_leaves_with_calls_in_flight(connect, appliance):
    first = connect(wait_timeout=30)
    started(first)
    for tag in range(5):
        first.emit("process", {"params": {"object": "bot", "method": "slow",
                                          "args": {"tag": tag, "seconds": 2}}})
    appliance.wait_log(r"slow 4 started", 1, 30)
    first.disconnect()
    second = connect(wait_timeout=30)
    # The replies to the first client arrive while the second one calls: dropped quietly.
    began = time.monotonic()
    while time.monotonic() - began < 3:
        assert call(second, "bot", "echo", {"value": 1}, timeout=30)["data"] == 1
    assert "Traceback" not in appliance.log
    assert "could not send" not in appliance.log


def test_an_event_named_process_with_odd_payloads(appliance, client):
    started(client)
    client.disconnect()
    raw = RawSocketIO("127.0.0.1", appliance.port)
    try:
        for number, payload in enumerate(('[1,2]', '"text"', 'null', '{"params":[]}',
                                          '{"params":{"method":7}}'), 1):
            ack = raw_call(raw, number, '["process",%s]' % payload)
            assert ack["status"] == "error" and ack["data"] == {"code": "invalid_payload"}, ack
        ack = raw_call(raw, 20, '["process"]')      # no payload at all
        assert ack["status"] == "error" and ack["data"] == {"code": "invalid_payload"}, ack
        # Without an ack id there is nothing to answer; the connection keeps serving.
        raw.send_packet('42' + process("echo", value="unacked"))
        # Spaced JSON and an escaped name are the same event, on the stock path.
        ack = raw_call(raw, 21, '[ "process" , {"params":{"object":"bot","method":"echo",'
                                '"args":{"value":2}}}]')
        assert ack == {"status": "success", "message": "bot.echo returned", "data": 2}
        ack = raw_call(raw, 22, '["proc\\u0065ss",{"params":{"object":"bot","method":"echo",'
                                '"args":{"value":3}}}]')
        assert ack == {"status": "success", "message": "bot.echo returned", "data": 3}
        assert raw_call(raw, 23, process("echo", value=4))["data"] == 4
    finally:
        raw.close()
    assert "Traceback" not in appliance.log


def test_observers_get_their_refusal_on_the_fast_path(connect, appliance):
    controller = connect(wait_timeout=30)
    ok(upload(controller, "callpathbot"))
    raw = RawSocketIO("127.0.0.1", appliance.port, auth={"role": "observer"})
    try:
        ack = raw_call(raw, 1, process("echo", value=1))
        assert ack["status"] == "error" and ack["data"] == {"code": "observer"}, ack
    finally:
        raw.close()
