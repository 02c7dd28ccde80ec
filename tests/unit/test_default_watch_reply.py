"""robotctl-watch reads the reply to *its* request, over a real ZeroMQ socket (issue 9)."""
from __future__ import annotations

import threading

import yaml
import zmq

from executor.default_watch import DefaultWatch
from shared import config, messages, sockets


def test_the_watch_skips_an_answer_to_another_request(tmp_path):
    path = tmp_path / "robotctl.yaml"
    path.write_text(yaml.safe_dump({
        "executor": {"projects_dir": str(tmp_path / "projects")},
        "ipc": {"command_socket": "ipc://%s/cmd.ipc" % tmp_path,
                "callback_socket": "ipc://%s/cb.ipc" % tmp_path}}))
    loaded = config.load(str(path))
    context = zmq.Context()
    router = sockets.open_socket(context, "gateway.command", loaded.ipc)
    watch = DefaultWatch(loaded)
    answers = []
    asking = threading.Thread(target=lambda: answers.append(watch.request("reseed_default")))
    asking.start()
    try:
        assert router.poll(10000), "no request from the watch"
        peer, *frames = router.recv_multipart()
        request = messages.decode(frames)
        assert isinstance(request, messages.Request) and request.command == "reseed_default"
        assert request.id.startswith("watch-")
        # A late answer to an earlier request (one that timed out), then the real one.
        stale = messages.id_boot(request.id) + ":0"
        router.send_multipart([peer] + messages.Reply(stale, "success", "stale").to_frames())
        router.send_multipart([peer] + messages.Reply(request.id, "success", "fresh").to_frames())
        asking.join(10)
        assert answers == ["fresh"]
    finally:
        router.close(0)
        context.term()
