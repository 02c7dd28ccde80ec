"""The executor process: one main loop over the command socket, the gateway monitor, signals
and the watchdog, run by one thread at a time (executor.leadership). That thread runs a call
itself and another thread takes the loop over when the call is slow, so a hung import or a
slow call can neither delay READY nor starve the watchdog; the main thread never runs user
code. Commands that are slow by design run on workers (see commands).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import zmq

import shared
from executor import commands, output_capture, stop_hooks
from executor.calls import CallTracker
from executor.command_context import CommandContext
from executor.event_channel import EventChannel
from executor.leadership import Leadership, block_timer_signal
from executor.lifecycle import Lifecycle, Startup
from executor.project_store import ProjectStore
from executor.project_types import open_project
from executor.python_runtime import LoadError
from executor.restart_history import RestartHistory
from executor.socket_wait import SocketWait, readable
from executor.worker_pool import WorkerPool
from shared import error_codes, exit_record, messages, protocol, sockets
from shared.config import Config
from shared.systemd_notify import Notifier
from shared.timeouts import earliest

log = logging.getLogger(__name__)

BUNDLED_DEFAULT = Path(__file__).resolve().parent / "default_project"


class ExecutorService:
    def __init__(self, config: Config):
        block_timer_signal()     # before any thread starts (see executor.leadership)
        self.config = config
        self.instance = os.urandom(6).hex()   # not secrets: it loads OpenSSL (see shared/digest.py)
        self.started = time.time()
        self.notifier = Notifier()
        self.store = ProjectStore(Path(config.executor.projects_dir), BUNDLED_DEFAULT)
        run_dir = Path(exit_record.run_dir_of(config))
        self.lifecycle = Lifecycle(self.store, RestartHistory(run_dir), config.executor)
        self.pool = WorkerPool()
        self.leadership = Leadership(self.pool)
        self._exit_code = 0
        self.notice = ""        # told in the reply of the next call (e.g. a rollback)
        self._exit_reason: Optional[str] = None
        self._context = zmq.Context()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._sockets: List[zmq.Socket[bytes]] = []
        # A controller that leaves while the project imports gets its stop hooks once the
        # import completes (they do not exist before).
        self._load_state = threading.Lock()
        self._loading = False
        self._stop_when_loaded: Optional[str] = None

    # -- start-up -----------------------------------------------------------------------

    def open(self, capture_output: bool = True) -> None:
        """Prepare the project store and the sockets; no user code is imported here."""
        self.startup: Startup = self.lifecycle.start()
        self.info = self.startup.info
        if self.startup.backoff:
            log.warning("the executor crashed repeatedly; waiting %.2f s before starting",
                        self.startup.backoff)
            time.sleep(self.startup.backoff)
        self.command = self._open("executor.command", routing_id=self.instance.encode())
        self.monitor = sockets.peer_events(self.command)
        self.channel = EventChannel(self._open("executor.callback"),
                                    self.config.executor.event_buffer_bytes)
        self.project = open_project(self.info.path, self.channel.push)
        self.calls = CallTracker(self.pool, self.channel, lambda: self.info.path,
                                 self.config.executor.max_calls_in_flight)
        self.handler_context = CommandContext(
            store=self.store, settings=self.config.executor, project=self.project,
            load_project=self.load_project, project_info=self.project_info,
            status_info=self.status_info, stop_when_loaded=self.stop_when_loaded,
            run_stop_hooks=self.run_stop_hooks, request_exit=self.request_exit)
        if capture_output:
            output_capture.capture(self.channel.system_push)
        signal.set_wakeup_fd(self._wake_write)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)   # the wakeup fd tells the main loop
        # The leadership timer's signal is blocked everywhere; should a thread started by C
        # code unblock it and receive it, it must not end the process (the default action).
        signal.signal(signal.SIGALRM, lambda *_: None)

    def _open(self, role: str, **options: Any) -> zmq.Socket[bytes]:
        sock = sockets.open_socket(self._context, role, self.config.ipc, **options)
        self._sockets.append(sock)
        return sock

    def say_hello(self) -> None:
        hello = messages.Hello(self.instance, os.getpid(), shared.__version__,
                               self.project_info(), self.startup.last_restart)
        self.command.send_multipart(hello.to_frames())

    # -- the main loop --------------------------------------------------------------------

    def run(self) -> int:
        self.say_hello()
        self._after_start()
        self.notifier.ready(self._status_line())
        log.info("executor %s ready (pid %d), project %s (%s), started because: %s",
                 self.instance, os.getpid(), self.info.name, self.info.origin,
                 self.startup.last_restart["reason"])
        self._wait = SocketWait(self.command, [self.monitor], [self._wake_read])
        self.leadership.serve(self._lead)
        return self._exit_code

    def _lead(self) -> bool:
        """The main loop, run while this thread leads; True once the executor has shut down,
        False when a slow call kept this thread and another one leads now."""
        while self._exit_reason is None:
            timeout = earliest(self.calls.expire(), self.notifier.seconds_to_next_ping(),
                               self.lifecycle.check_good())
            ready = self._wait.wait(timeout)
            self.notifier.watchdog()
            if self.command in ready and not self._drain_commands():
                return False
            while self.monitor in ready and readable(self.monitor):
                self._peer_event(sockets.read_peer_event(self.monitor))
            if self._wake_read in ready:
                self._wakeup(os.read(self._wake_read, 64))
        self._exit_code = self._shutdown()
        return True

    def _after_start(self) -> None:
        rolled_back = self.startup.rolled_back
        if rolled_back is not None:
            self.channel.system_push(protocol.PROJECT_ROLLED_BACK, rolled_back)
            self.notice = "the project was rolled back: %s" % rolled_back["reason"]
        if self.startup.resume:
            log.info("the project was running when the executor died; loading it again")
            self.pool.submit(self._resume)

    def _resume(self) -> None:
        try:
            self.load_project()
        except LoadError:
            pass     # logged by load_project
        except Exception as e:
            log.error("could not resume the project: %s", e)

    def _drain_commands(self) -> bool:
        """Run the commands that arrived, one after another on this thread, each under the
        leadership timer: one that takes longer hands the loop, and the commands behind it
        (still in the socket), to another thread. False if this thread lost the lead."""
        while True:
            request = self._receive()
            if request is None:
                return True
            self._dispatch(request)
            if not self.leadership.leading():
                return False

    def _receive(self) -> Any:
        """The next command waiting on the command socket, decoded, or None."""
        while readable(self.command):
            try:
                return messages.decode(self.command.recv_multipart(zmq.NOBLOCK))
            except messages.MessageError as e:
                log.error("ignored a malformed command: %s", e)
        return None

    def _dispatch(self, request: Any) -> None:
        if isinstance(request, messages.Consumed):
            self.channel.consumed(request.nbytes)
            return
        if not isinstance(request, messages.Request):
            log.error("ignored an unexpected %s message on the command channel", request.kind)
            return
        if request.instance and request.instance != self.instance:
            # Sent to the executor this process replaced: never act on a stale command.
            self.channel.reply(request.id, protocol.ERROR, "the executor restarted before this "
                               "command arrived; it was not run",
                               protocol.error_data(error_codes.EXECUTOR_RESTARTING))
            return
        command = commands.lookup(request.command)
        if command is None:
            self.channel.reply(request.id, protocol.ERROR, "unknown command %r" % request.command,
                               protocol.error_data(error_codes.UNKNOWN_COMMAND))
            return
        label = self._label(request)
        timeout = self.config.executor.max_execution_time if command.user_call else None
        context = self.handler_context
        work = lambda: command.handler(context, request)  # noqa: E731
        if command.user_call:
            work = lambda: self._noted(command.handler(context, request))  # noqa: E731
        runner = None if command.on_worker else self.leadership.run_inline
        self.calls.run(request.id, label, work, timeout or None, bounded=command.user_call,
                       runner=runner)

    def _noted(self, result: Any) -> Any:
        """Add a pending notice (a rollback) to the message of the next reply."""
        notice = self.take_notice()
        if notice:
            result.message = "%s (note: %s)" % (result.message, notice)
        return result

    @staticmethod
    def _label(request: messages.Request) -> str:
        if request.command == "process":
            return "%s.%s" % (request.args.get("object") or "main", request.args.get("method"))
        return request.command

    def _peer_event(self, event: int) -> None:
        if event == zmq.EVENT_CONNECTED:
            log.info("connected to the gateway")
            self.say_hello()     # a restarted gateway learns who we are
            self.channel.gateway_connected()
        elif event == zmq.EVENT_DISCONNECTED:
            self.channel.gateway_lost()
            log.warning("lost the gateway; running the stop hooks so the robot does not "
                        "keep moving without its operator")
            self.pool.submit(lambda: self.run_stop_hooks("the gateway went away"))

    def _wakeup(self, data: bytes) -> None:
        for signum in data:
            if signum in (signal.SIGTERM, signal.SIGINT):
                log.info("received %s; stopping", signal.Signals(signum).name)
                self._exit_reason = "signal"

    def request_exit(self, reason: str) -> None:
        """Ask the main loop to end after the current replies (thread-safe)."""
        self._exit_reason = reason
        self.request_wakeup()

    def request_wakeup(self) -> None:
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:
            pass    # the pipe is full, so the loop will wake anyway

    def _shutdown(self) -> int:
        self.notifier.stopping()
        reason = "manual" if self._exit_reason == "signal" else self._exit_reason or "manual"
        self.lifecycle.exiting(reason)
        if self.project.loaded:
            self.run_stop_hooks("the executor is stopping (%s)" % reason)
        self.channel.close()     # under the lock user threads send with; lingers for replies
        for sock in self._sockets:
            sock.close()
        self.monitor.close(linger=0)
        self._wait.close()
        self._context.term()
        log.info("executor %s exits (%s)", self.instance, reason)
        return 0

    # -- given to the command handlers (see executor.command_context) ------------------

    def load_project(self) -> bool:
        """Import the project (idempotent); True if this call imported it."""
        if self.project.loaded:
            return False
        self.lifecycle.loading()
        with self._load_state:
            self._loading = True
        try:
            imported = self.project.load()
        except BaseException as e:
            with self._load_state:
                self._loading, self._stop_when_loaded = False, None
            self.lifecycle.load_failed()
            if isinstance(e, LoadError):
                log.error("project %s (%s) failed to load: %s\n%s", self.info.name,
                          self.info.origin, e, e.details.get("traceback", "").rstrip())
            raise
        self.lifecycle.loaded()
        self.update_status()
        self.request_wakeup()     # the main loop re-reads the good-project deadline
        if imported:
            self.channel.project_state(self.project_info())
        with self._load_state:
            self._loading, why = False, self._stop_when_loaded
            self._stop_when_loaded = None
        if why is not None:
            self.run_stop_hooks(why + " while the project was loading")
        return imported

    def stop_when_loaded(self, why: str) -> bool:
        """If the project is loading now, run the stop hooks once it has loaded; True if so."""
        with self._load_state:
            if self._loading:
                self._stop_when_loaded = why
            return self._loading

    def take_notice(self) -> str:
        notice, self.notice = self.notice, ""
        return notice

    def run_stop_hooks(self, why: str) -> List[Dict[str, Any]]:
        hooks = self.project.stop_hooks()
        if not hooks:
            return []
        log.info("running %d stop hook(s): %s", len(hooks), why)
        return stop_hooks.run_all(hooks, self.calls, self.config.executor.stop_hook_timeout,
                                  self.info.path)

    def project_info(self) -> Dict[str, Any]:
        return dict(self.info.to_dict(), type=self.project.kind, loaded=self.project.loaded)

    def status_info(self) -> Dict[str, Any]:
        return {"instance": self.instance, "pid": os.getpid(), "version": shared.__version__,
                "uptime": time.time() - self.started, "project": self.project_info(),
                "calls_in_flight": self.calls.in_flight}

    def update_status(self) -> None:
        self.notifier.status(self._status_line())

    def _status_line(self) -> str:
        state = "loaded" if self.project.loaded else "not loaded"
        return "project %s (%s, %s)" % (self.info.name, self.info.origin, state)


