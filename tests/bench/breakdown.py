"""Where a ``process`` round trip goes: the executor alone, driven by a plain ZeroMQ stand-in
for the gateway (the same frames, the same ipc sockets), next to a bare DEALER/ROUTER round
trip. What ``process`` adds over the bare echo, minus this, is the gateway's share."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

import yaml
import zmq

from shared import messages
from tests.appliance import REPO
from tests.bench.common import Child, Row, cpu_seconds, percentiles, us
from tests.bench.roundtrip import CALLS, WARMUP, _dealer

CALL = {"object": "sport_client", "method": "GetState", "args": None}


def _await_reply(pull: zmq.Socket[bytes], request_id: str) -> None:
    """Read the callback socket up to the reply to ``request_id``: what the executor sends
    besides (its ProjectState once the first call has imported the project) must not count
    as a reply, or every later call would have two requests in flight."""
    while True:
        message = messages.decode(pull.recv_multipart())
        if isinstance(message, messages.Reply) and message.id == request_id:
            return


def _executor_alone(rounds: int) -> Tuple[List[float], float]:
    """The round trips, and the executor's CPU per call over them."""
    workdir = tempfile.mkdtemp(prefix="rcx-", dir="/tmp")
    config: Dict[str, Dict[str, Any]] = {"gateway": {"auth_token_file": None},
              "executor": {"projects_dir": workdir + "/projects"},
              "ipc": {"command_socket": "ipc://%s/cmd" % workdir,
                      "callback_socket": "ipc://%s/cb" % workdir}}
    with open(workdir + "/robotctl.yaml", "w") as f:
        yaml.safe_dump(config, f)
    context = zmq.Context()
    router, pull = context.socket(zmq.ROUTER), context.socket(zmq.PULL)
    router.bind(config["ipc"]["command_socket"])
    pull.bind(config["ipc"]["callback_socket"])
    child = subprocess.Popen([sys.executable, "-m", "executor", "--config", workdir + "/robotctl.yaml"],
                             cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        peer, hello = router.recv_multipart()
        instance = messages.decode([hello]).instance   # type: ignore[union-attr]
        samples: List[float] = []
        next_id = messages.new_id_source("bench-")
        cpu = cpu_seconds(child.pid)
        for _ in range(rounds):
            for i in range(WARMUP + CALLS):
                t = time.perf_counter()
                request = messages.Request(next_id(), "process", CALL, instance)
                router.send_multipart([peer] + request.to_frames())
                _await_reply(pull, request.id)
                if i >= WARMUP:
                    samples.append(time.perf_counter() - t)
        return samples, (cpu_seconds(child.pid) - cpu) / (rounds * (WARMUP + CALLS))
    finally:
        child.terminate()
        child.wait()
        router.close(0)
        pull.close(0)
        context.term()
        shutil.rmtree(workdir, ignore_errors=True)


def run(ctx: Any) -> List[Row]:
    sockdir = tempfile.mkdtemp(prefix="rcb-", dir="/tmp")
    address = "ipc://%s/router.ipc" % sockdir
    bare: List[float] = []
    with Child("router", address) as router:
        cpu = cpu_seconds(router.pids()[0])
        for _ in range(ctx.rounds):
            bare.extend(_dealer(address)[0])
        router_cpu = (cpu_seconds(router.pids()[0]) - cpu) / (ctx.rounds * (WARMUP + CALLS))
    shutil.rmtree(sockdir, ignore_errors=True)
    samples, executor_cpu = _executor_alone(ctx.rounds)
    alone, floor = percentiles(samples), percentiles(bare)
    return [Row(
        measure="breakdown: process through the executor alone (plain ZeroMQ stand-in gateway)",
        robotctl="p50 %s / p90 %s / p99 %s; executor CPU %s per call" % (
            us(alone["p50"]), us(alone["p90"]), us(alone["p99"]), us(executor_cpu)),
        baseline="DEALER/ROUTER p50 %s; the ROUTER echo's CPU %s per call" % (
            us(floor["p50"]), us(router_cpu)),
        figure="the executor adds %s p50 over the bare hop" % us(alone["p50"] - floor["p50"]),
        target="– (evidence for the round-trip rows)", met=None,
        data={"executor_alone": alone, "dealer_router": floor, "executor_cpu": executor_cpu,
              "router_cpu": router_cpu})]


__all__ = ["run"]
