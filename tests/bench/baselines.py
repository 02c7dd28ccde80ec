"""The bare stack that robotctl is compared with, one server per sub-command.

    python -m tests.bench.baselines echo     # python-socketio on eventlet: "echo" acks its data
    python -m tests.bench.baselines emit     # "burst" {count}: emits count "tick", yields every 100
    python -m tests.bench.baselines upload   # stock server: "update" acks the size of its data
    python -m tests.bench.baselines frames   # "frames" {count, size}: emits binary "frame"s
    python -m tests.bench.baselines stream HOST  # "process" camera.start: 100 KB frames at 30 fps
                                                 # + robot_state at 100 Hz; ping -> pong
    python -m tests.bench.baselines router ADDRESS   # ZeroMQ ROUTER echo over ipc
    python -m tests.bench.baselines ipc_hop COUNT SIZE   # COUNT binary frames PUSH -> PULL over
                                                         # ipc; prints the CPU of both sides
    python -m tests.bench.baselines rep ADDRESS      # spawn -> REP bound -> one reply -> exit
    python -m tests.bench.baselines naive            # the naive design (below)
    python -m tests.bench.baselines forwarder        # robotctl's two hops from stock parts (below)

Each server prints one JSON line when it is ready. Everything here is stock: no robotctl
code and none of its fixes, so the figures are the floor of the stack itself.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any, Dict


def ready(**info: Any) -> None:
    print(json.dumps(info), flush=True)


def socketio_server(host: str = "127.0.0.1", **options: Any) -> Any:
    import eventlet
    import eventlet.wsgi
    import socketio

    sio = socketio.Server(async_mode="eventlet", logger=False, engineio_logger=False, **options)

    def serve(**info: Any) -> None:
        listener = eventlet.listen((host, 0))
        ready(port=listener.getsockname()[1], **info)
        eventlet.wsgi.server(listener, socketio.WSGIApp(sio), log_output=False, debug=False)
    return sio, serve


def echo() -> None:
    sio, serve = socketio_server()
    sio.on("echo", lambda sid, data=None: data)
    serve()


def emit() -> None:
    import eventlet
    sio, serve = socketio_server()

    def burst(sid: str, data: Any) -> int:
        count = data["count"]
        for i in range(count):
            sio.emit("tick", i, to=sid)
            if i % 100 == 99:
                eventlet.sleep(0)
        return count
    sio.on("burst", burst)
    serve()


def frames() -> None:
    import os
    import eventlet
    sio, serve = socketio_server()

    def send(sid: str, data: Any) -> int:
        # A camera's frames are new memory every time, and so are these (a copy), unless
        # "reuse" asks for one object sent again and again (no memory per frame at all).
        frame = os.urandom(data["size"])
        reuse = data.get("reuse", False)
        for _ in range(data["count"]):
            sio.emit("frame", frame if reuse else bytes(memoryview(frame)), to=sid)
            eventlet.sleep(0)         # let the websocket writer run
        return data["count"]
    sio.on("frames", send)
    serve()


def upload() -> None:
    sio, serve = socketio_server(max_http_buffer_size=200 * 1024 * 1024)
    sio.on("update", lambda sid, data: {"status": "success", "size": len(data["data"])})
    serve()


def stream(host: str) -> None:
    """The streambot fixture's camera, emitted directly by a stock server on ``host``."""
    import time

    import eventlet
    # the gateway's default liveness settings, so that both are held to the same deadline
    sio, serve = socketio_server(host, ping_interval=4, ping_timeout=6)

    def every(period: float, emit: Any) -> None:
        seq, due = 0, time.monotonic()
        while True:
            emit(seq)
            seq, due = seq + 1, due + period
            eventlet.sleep(max(0.0, due - time.monotonic()))

    def start(sid: str, args: Any) -> None:
        body = "x" * args["frame_bytes"]
        eventlet.spawn(every, 1.0 / args["fps"], lambda seq: sio.emit(
            "camera", {"seq": seq, "t": time.time(), "jpeg": body}, to=sid))
        eventlet.spawn(every, 1.0 / args["state_hz"], lambda seq: sio.emit(
            "robot_state", {"seq": seq, "t": time.time(), "x": seq * 0.01, "yaw": 0.5}, to=sid))

    def process(sid: str, payload: Any) -> Any:
        params = payload["params"]
        if params["method"] == "start":
            start(sid, params["args"])
            return {"status": "success", "message": "", "data": "streaming"}
        return {"status": "success", "message": "", "data": "pong"}
    sio.on("process", process)
    serve()


def router(address: str) -> None:
    import zmq
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.bind(address)
    ready(address=address)
    while True:
        sock.send_multipart(sock.recv_multipart())


def ipc_hop(count: str, size: str) -> None:
    """The IPC hop alone, for binary frames: a PUSH process sends ``count`` frames of ``size``
    bytes (each a new copy, as a camera's), this process receives them as the gateway does
    (large frames without a copy); prints the CPU seconds of each side."""
    import os
    import resource
    import zmq
    address = "ipc://%s/hop.ipc" % tempfile.mkdtemp(prefix="rch-", dir="/tmp")
    pull = zmq.Context().socket(zmq.PULL)
    pull.bind(address)
    sender = subprocess.Popen([sys.executable, "-c", (
        "import json, os, resource, sys, zmq\n"
        "context = zmq.Context(); push = context.socket(zmq.PUSH); push.connect(sys.argv[1])\n"
        "frame = os.urandom(int(sys.argv[3]))\n"
        "cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])\n"
        "before = cpu()\n"
        "for _ in range(int(sys.argv[2])): push.send(bytes(memoryview(frame)))\n"
        "push.close(linger=-1); context.term()\n"
        "print(cpu() - before)\n"), address, count, size], stdout=subprocess.PIPE)
    first = pull.recv(copy=False)     # the sender has started: count from here
    before = resource.getrusage(resource.RUSAGE_SELF)
    first.buffer.release()
    for _ in range(int(count) - 1):
        pull.recv(copy=False).buffer.release()
    after = resource.getrusage(resource.RUSAGE_SELF)
    sent_cpu = float(sender.communicate()[0])
    os.unlink(address[len("ipc://"):])
    print(json.dumps({"receiver": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                      "sender": sent_cpu}), flush=True)


def rep(address: str) -> None:
    import yaml  # noqa: F401  (the executor needs it too: same start-up work)
    import zmq
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.bind(address)
    sock.send(sock.recv())
    sock.close(linger=1000)
    context.term()


def naive() -> None:
    """The original backend's own shape, which robotctl replaces: a Socket.IO server that
    forwards each ``process`` over one green ZeroMQ REQ socket to a REP process running the
    method. One REQ socket means one call at a time: a slow call blocks every other."""
    from eventlet.green import zmq
    from eventlet.semaphore import Semaphore
    address = "ipc://%s/naive.ipc" % tempfile.mkdtemp(prefix="rcn-", dir="/tmp")
    worker = subprocess.Popen([sys.executable, "-m", "tests.bench.baselines", "naive_worker",
                               address])
    req = zmq.Context().socket(zmq.REQ)
    req.connect(address)
    one_at_a_time = Semaphore()
    sio, serve = socketio_server()

    def process(sid: str, payload: Any) -> Any:
        with one_at_a_time:
            req.send(json.dumps(payload["params"]).encode())
            return json.loads(req.recv())
    sio.on("process", process)
    serve(worker_pid=worker.pid)


def forwarder() -> None:
    """robotctl's two hops built from stock parts, with nothing of robotctl's: the floor of
    its shape. A stock python-socketio handler sends each ``process`` with an id over a plain
    ZeroMQ DEALER, which eventlet's hub reads when its fd signals (as gateway/hub_reader
    does), and waits for the reply; a bare ROUTER echo process (``router``) stands in for the
    executor. Calls may overlap, as robotctl's do."""
    import itertools

    import eventlet.hubs
    import zmq
    from eventlet.event import Event
    address = "ipc://%s/forwarder.ipc" % tempfile.mkdtemp(prefix="rcf-", dir="/tmp")
    worker = subprocess.Popen([sys.executable, "-m", "tests.bench.baselines", "router", address],
                              stdout=subprocess.DEVNULL)
    dealer = zmq.Context().socket(zmq.DEALER)
    dealer.connect(address)
    waiting: Dict[bytes, Any] = {}
    ids = itertools.count(1)

    def read_replies(_fd: int = 0) -> None:
        while int(dealer.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            request_id, body = dealer.recv_multipart(zmq.NOBLOCK)
            waiting.pop(request_id).send(json.loads(body))
    hub = eventlet.hubs.get_hub()
    hub.add(hub.READ, dealer.getsockopt(zmq.FD), read_replies, lambda _e: None, lambda: None)
    sio, serve = socketio_server()

    def process(sid: str, payload: Any) -> Any:
        request_id, reply = b"%d" % next(ids), Event()
        waiting[request_id] = reply
        dealer.send_multipart([request_id, json.dumps(payload["params"]).encode()])
        read_replies()      # the fd signals once for what is queued: read it now
        return {"status": "success", "message": "", "data": reply.wait()}
    sio.on("process", process)
    serve(worker_pid=worker.pid)


def naive_worker(address: str) -> None:
    """The naive design's REP process: calls ``bench.echo`` / ``bench.slow`` as asked."""
    import time
    import zmq

    def slow(seconds: float) -> float:
        time.sleep(seconds)
        return seconds
    methods: Dict[str, Any] = {"echo": lambda value=None: value, "slow": slow}
    sock = zmq.Context().socket(zmq.REP)
    sock.bind(address)
    while True:
        params = json.loads(sock.recv())
        try:
            value = methods[params["method"]](**(params.get("args") or {}))
            reply = {"status": "success", "message": "%s returned" % params["method"],
                     "data": value}
        except Exception as e:
            reply = {"status": "error", "message": "%s: %s" % (type(e).__name__, e), "data": None}
        sock.send(json.dumps(reply).encode())


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    programs: Dict[str, Any] = {"echo": echo, "emit": emit, "frames": frames, "upload": upload,
                                "stream": stream, "router": router, "rep": rep, "naive": naive,
                                "naive_worker": naive_worker, "forwarder": forwarder, "ipc_hop": ipc_hop}
    programs[command](*args)
