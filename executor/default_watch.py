"""``python3 -m executor.default_watch``: the robotctl-watch service.

Watches ``projects/default`` (with the watchdog library). When it changes on disk — an
operator edits it, or a package upgrade ships a new one — and a burst of file events has
settled, it checks that ``main.py`` compiles and then asks the executor, through the gateway's
command socket, to re-seed ``current`` from it and restart. The executor only does so when
the running project came from the default (an upload is never replaced), so the decision
rests on the recorded origin, not a guess. Every outcome is logged to the journal.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional

import zmq

from shared import logsetup, messages, sockets, startup
from shared.digest import sha256
from shared.systemd_notify import Notifier
from shared.timeouts import earliest

log = logging.getLogger("executor.default_watch")

DEBOUNCE = 1.0          # seconds of quiet after the last file event before acting
REPLY_TIMEOUT = 60.0    # the executor restarts in between; give it time
OBSERVER_TIMEOUT = 60.0
# watchdog's event types that change a tree's contents ("closed": closed after a write). The
# releases after bookworm's 2.2.1 add "opened" and "closed_no_write", which are reads, and
# "attrib" (a chmod or a touch), which leaves the contents, and so the tree's hash, as they were.
CHANGE_EVENTS = frozenset({"created", "deleted", "modified", "moved", "closed"})


def tree_hash(root: Path) -> str:
    """A hash of the files under ``root`` (names and contents), ignoring bytecode caches."""
    digest = sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_change(event: Any, root: str) -> bool:
    """Whether the watchdog ``event`` says that something under ``root`` changed.

    Reading a file is no change: watchdog's later releases also report a file opened and
    closed unwritten, and this service reads every file of ``root`` to hash it, so acting on
    those re-hashed the tree once per DEBOUNCE, forever (~2 ms of CPU a second with the bundled
    project, more with a larger one). A bytecode cache is no change either. A move counts
    where it lands too (a package upgrade that moves a new ``default`` into place).
    """
    if event.event_type not in CHANGE_EVENTS:
        return False
    paths = (os.fsdecode(path) for path in (event.src_path, getattr(event, "dest_path", "")))
    return any(_under(path, root) and "__pycache__" not in path for path in paths if path)


def _under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies in it (not merely starts like it: default-old)."""
    return path == root or path.startswith(root + os.sep)


def compile_error(main: Path) -> Optional[str]:
    """None if ``main`` compiles, else why not (with the line)."""
    try:
        compile(main.read_bytes(), str(main), "exec")
        return None
    except SyntaxError as e:
        return "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno)
    except (OSError, ValueError) as e:
        return "%s: %s" % (type(e).__name__, e)


class DefaultWatch:
    def __init__(self, config: Any):
        self.default_dir = Path(config.executor.projects_dir) / "default"
        self.changes: "queue.Queue[str]" = queue.Queue()
        self.notifier = Notifier()
        self._context = zmq.Context()
        self._socket = sockets.open_socket(self._context, "watch.command", config.ipc)
        self._applied = self._hash()
        self._rejected: Optional[str] = None
        self._next_id = messages.new_id_source("watch-")

    def _hash(self) -> Optional[str]:
        return tree_hash(self.default_dir) if self.default_dir.is_dir() else None

    def start_observer(self) -> Any:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        changes, root = self.changes, str(self.default_dir)

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if is_change(event, root):
                    changes.put(event.src_path)

        self.default_dir.parent.mkdir(parents=True, exist_ok=True)
        # The observer's threads wake every `timeout` seconds only to check whether they
        # should stop (events wake them at once); the default of 1 s costs idle CPU.
        observer = Observer(timeout=OBSERVER_TIMEOUT)
        # Watch the parent: default/ may be replaced as a whole (a package upgrade).
        observer.schedule(Handler(), str(self.default_dir.parent), recursive=True)
        observer.start()
        return observer

    def run(self) -> None:
        self.notifier.ready("watching %s" % self.default_dir)
        log.info("watching %s for changes", self.default_dir)
        settle_at: Optional[float] = None
        while True:
            timeout = earliest(self.notifier.seconds_to_next_ping(),
                           None if settle_at is None else max(0.0, settle_at - time.monotonic()))
            try:
                self.changes.get(timeout=timeout)
                settle_at = time.monotonic() + DEBOUNCE
            except queue.Empty:
                pass
            self.notifier.watchdog()
            if settle_at is not None and time.monotonic() >= settle_at:
                settle_at = None
                self.apply()

    def apply(self) -> None:
        current = self._hash()
        if current is None or current in (self._applied, self._rejected):
            return
        if self._applied is None:
            # default/ just appeared: the executor installed it at its first start and
            # seeded current from it already.
            self._applied = current
            return
        problem = compile_error(self.default_dir / "main.py")
        if problem is not None:
            self._rejected = current
            log.error("the default project changed but main.py does not compile (%s); "
                      "not applied", problem)
            return
        self._applied = current
        log.info("the default project changed (%s); asking the executor to reload it", current[:12])
        self.notifier.status("applying a changed default project")
        log.info("executor: %s", self.request("reseed_default"))
        self.notifier.status("watching %s" % self.default_dir)

    def request(self, command: str) -> str:
        """Send ``command`` and return the message of *its* reply: a late reply to an earlier
        request (one that timed out) is skipped."""
        request = messages.Request(self._next_id(), command, {})
        self._socket.send_multipart(request.to_frames())
        deadline = time.monotonic() + REPLY_TIMEOUT
        while self._socket.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
            try:
                reply = messages.decode(self._socket.recv_multipart())
            except messages.MessageError as e:
                log.error("ignored a malformed answer: %s", e)
                continue
            if isinstance(reply, messages.Reply) and reply.id == request.id:
                return reply.message
            log.warning("ignored an answer to another request: %r", reply)
        return "no answer within %g s (is robotctl-gateway running?)" % REPLY_TIMEOUT



def main() -> int:
    args = startup.arguments("python3 -m executor.default_watch", __doc__)
    logsetup.setup("watch")
    config = startup.load_config(args, lambda problem: log.critical("configuration error: %s",
                                                                    problem))
    if config is None:
        return startup.EX_CONFIG
    # Nothing to flush: leave at once. Raising from the handler instead (SystemExit,
    # KeyboardInterrupt) lands inside queue.get's lock handling, where it turns into
    # "RuntimeError: release unlocked lock" and a wait for the observer threads.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_now)
    watch = DefaultWatch(config)
    watch.start_observer()
    watch.run()
    return 0


def _exit_now(signum: int, frame: Any) -> None:
    log.info("received %s; stopping", signal.Signals(signum).name)
    os._exit(0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
