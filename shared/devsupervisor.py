"""``make run``: the development stand-in for systemd.

Starts the gateway, the executor and the default-project watch as child processes, and
treats them as systemd treats the units: each gets NOTIFY_SOCKET and WATCHDOG_USEC, a child
that stops pinging is killed and restarted, any child that exits is restarted (the executor
exits after every update), why the executor stopped is recorded by shared.exit_record as
its ExecStopPost= hook does, and Ctrl+C stops everything. It sleeps in select() on its
signals and the notify socket, with a timeout only for the nearest watchdog deadline, so it
uses no CPU while nothing happens.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Set

from shared import config as config_module
from shared import exit_record, startup
from shared.notify_listener import NotifyListener

WATCHED = (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# After this many crashes within CRASH_WINDOW seconds the executor is restarted with a delay,
# so a crash loop of the executor's own start-up does not spin (the executor backs off and
# rolls back crash-looping projects itself, as under systemd).
CRASH_WINDOW = 10.0
CRASH_BURST = 5
BANNER_WIDTH = 60
# The three services of robotctl.target, by module.
CHILDREN = ("gateway", "executor", "executor.default_watch")
WATCHDOG_SEC = 10.0     # the units' WatchdogSec=
START_TIMEOUT = 90.0    # systemd's default TimeoutStartSec: until READY=1, no pings needed
STOP_TIMEOUT = 1.5      # then SIGKILL: Ctrl+C must stop everything within 2 s


class Supervisor:
    def __init__(self, config_path: str, url: str, run_dir: str, projects_dir: str = "",
                 watchdog_sec: float = WATCHDOG_SEC):
        self.config_path = config_path
        self.url = url
        self.run_dir = run_dir
        self.projects_dir = projects_dir
        self.watchdog_sec = watchdog_sec
        os.makedirs(run_dir, exist_ok=True)
        exit_record.clear(run_dir)     # a new run is a boot
        self.notify = NotifyListener(os.path.join(run_dir, "notify.sock"))
        self.children: Dict[str, subprocess.Popen[bytes]] = {}
        self.deadlines: Dict[str, float] = {}       # child -> when its watchdog fires
        self.watchdog_killed: Set[str] = set()
        self.exits: List[float] = []

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", NOTIFY_SOCKET=self.notify.path,
                   WATCHDOG_USEC=str(int(self.watchdog_sec * 1e6)))
        # Its own process group: Ctrl+C reaches the supervisor only, which stops the
        # children with SIGTERM as systemd would.
        child = subprocess.Popen([self.python(name), "-m", name, "--config", self.config_path],
                                 env=env, preexec_fn=os.setpgrp)
        self.children[name] = child
        self.deadlines[name] = time.monotonic() + START_TIMEOUT
        return child

    def python(self, name: str) -> str:
        """The executor runs on the current project's own environment (the link
        projects_dir/current-env), as units/executor-launch does; the rest on ours."""
        if name != "executor":
            return sys.executable
        try:
            env = os.readlink(os.path.join(self.projects_dir, "current-env"))
        except OSError:
            return sys.executable
        python = os.path.join(self.projects_dir, env, "bin", "python")
        return python if os.access(python, os.X_OK) else sys.executable

    def run(self) -> int:
        wakeup_read, wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        for signum in WATCHED:
            signal.signal(signum, lambda *_: None)   # delivered through the wakeup pipe
        signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
        selector = selectors.DefaultSelector()
        selector.register(wakeup_read, selectors.EVENT_READ, "signals")
        selector.register(self.notify, selectors.EVENT_READ, "notify")
        for name in CHILDREN:
            self.spawn(name)
        self.banner()
        try:
            while True:
                timeout = max(0.0, min(self.deadlines.values()) - time.monotonic())
                for key, _ in selector.select(timeout):
                    if key.data == "notify":
                        self.notified()
                        continue
                    signals = set(os.read(wakeup_read, 512))
                    if signals - {signal.SIGCHLD}:
                        return self.stop()
                    if self.reap():
                        return self.stop(1)
                self.check_watchdogs()
        finally:
            signal.set_wakeup_fd(-1)
            self.notify.close()

    def notified(self) -> None:
        pids = {child.pid: name for name, child in self.children.items()}
        for pid, fields in self.notify.receive():
            name = pids.get(pid)
            if name is not None and ("WATCHDOG" in fields or "READY" in fields):
                self.deadlines[name] = time.monotonic() + self.watchdog_sec

    def check_watchdogs(self) -> None:
        now = time.monotonic()
        for name, deadline in self.deadlines.items():
            child = self.children[name]
            if now >= deadline and child.poll() is None and name not in self.watchdog_killed:
                print("robotctl: the %s stopped pinging its watchdog for %g s; killing it"
                      % (name, self.watchdog_sec), file=sys.stderr, flush=True)
                self.watchdog_killed.add(name)
                child.kill()
                self.deadlines[name] = now + START_TIMEOUT   # reaped on SIGCHLD

    def reap(self) -> bool:
        """Restart whichever child exited, as systemd would; True if one cannot run at all
        (a configuration error, exit status 78), which stops everything."""
        for name, child in list(self.children.items()):
            status = child.poll()
            if status is None:
                continue
            if status == startup.EX_CONFIG:
                print("robotctl: the %s has a configuration error" % name, file=sys.stderr)
                return True
            result = "watchdog" if name in self.watchdog_killed else None
            self.watchdog_killed.discard(name)
            if name == "executor":
                exit_record.write(self.run_dir, name, exit_record.from_wait_status(status, result))
            print("robotctl: the %s exited (%s); restarting it"
                  % (name, exit_record.describe_wait_status(status)), file=sys.stderr)
            if status != 0:
                self.backoff()
            self.spawn(name)
        return False

    def backoff(self) -> None:
        now = time.monotonic()
        self.exits = [t for t in self.exits if now - t < CRASH_WINDOW] + [now]
        if len(self.exits) > CRASH_BURST:
            time.sleep(1.0)

    def stop(self, status: int = 0) -> int:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children.values():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        print("robotctl: stopped", flush=True)
        return status

    def banner(self) -> None:
        line = "=" * BANNER_WIDTH
        print(line, "robotctl - robot control appliance (development mode)", line, sep="\n")
        print("Config:   %s" % self.config_path)
        print("Gateway:  %s  (PID %d)" % (self.url, self.children["gateway"].pid))
        print("Executor: PID %d, restarted after every update" % self.children["executor"].pid)
        print(line, "Press Ctrl+C to stop.", sep="\n", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    args = startup.arguments("python3 -m shared.devsupervisor", __doc__, argv, lambda parser: (
        parser.add_argument("--watchdog-sec", type=float, default=WATCHDOG_SEC, metavar="SECONDS",
                            help="the children's watchdog timeout (default %g, as the units)"
                            % WATCHDOG_SEC)))
    path = config_module.path_from_args(args)
    config = startup.load_config(args, lambda problem: print(
        "robotctl: configuration error: %s" % problem, file=sys.stderr))
    if config is None:
        return startup.EX_CONFIG
    scheme = "https" if config.gateway.tls_cert_file else "http"
    url = "%s://localhost:%d" % (scheme, config.gateway.port)
    return Supervisor(path, url, exit_record.run_dir_of(config),
                      config.executor.projects_dir, args.watchdog_sec).run()


if __name__ == "__main__":
    sys.exit(main())
