"""``make run``: the development stand-in for systemd.

Starts the gateway and the executor as child processes, restarts either whenever it exits
(the executor exits after every update, as under systemd in production), records how the
executor stopped as systemd's ExecStopPost= hook does, and stops both on Ctrl+C. It
waits for signals with sigwaitinfo, so it uses no CPU while nothing happens.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

from shared import config as config_module

WATCHED = {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
# After this many crashes within CRASH_WINDOW seconds the executor is restarted with a delay,
# so a crash loop of the executor's own start-up does not spin (the executor backs off and
# rolls back crash-looping projects itself, as under systemd).
CRASH_WINDOW = 10.0
CRASH_BURST = 5
BANNER_WIDTH = 60
# The three services of robotctl.target, by module.
CHILDREN = ("gateway", "executor", "executor.default_watch")


class Supervisor:
    def __init__(self, config_path: str, port: int, run_dir: str, projects_dir: str = ""):
        self.config_path = config_path
        self.port = port
        self.projects_dir = projects_dir
        # Where systemd's ExecStopPost= hook would record how the executor stopped.
        self.stop_record = os.path.join(run_dir, "executor-last-exit")
        os.makedirs(run_dir, exist_ok=True)
        for stale in ("executor-last-exit", "executor-exit.json", "executor-crashes.json",
                      "executor-loaded"):
            _remove(os.path.join(run_dir, stale))   # a new run is a boot
        self.children: Dict[str, subprocess.Popen] = {}
        self.exits: List[float] = []

    def spawn(self, name: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("NOTIFY_SOCKET", None)
        child = subprocess.Popen(
            [self.python(name), "-m", name, "--config", self.config_path], env=env,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, []))
        self.children[name] = child
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
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        for name in CHILDREN:
            self.spawn(name)
        self.banner()
        try:
            while True:
                info = signal.sigwaitinfo(WATCHED)
                if info.si_signo != signal.SIGCHLD:
                    return self.stop()
                if self.reap():
                    return self.stop(1)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)

    def reap(self) -> bool:
        """Restart whichever child exited, as systemd would; True if one cannot run at all
        (a configuration error, exit status 78), which stops everything."""
        for name, child in list(self.children.items()):
            status = child.poll()
            if status is None:
                continue
            if status == 78:
                print("robotctl: the %s has a configuration error" % name, file=sys.stderr)
                return True
            if name == "executor":
                self.record_stop(status)
            print("robotctl: the %s exited (%s); restarting it" % (name, _describe(status)),
                  file=sys.stderr)
            if status != 0:
                self.backoff()
            self.spawn(name)
        return False

    def record_stop(self, status: int) -> None:
        """Write what systemd passes to ExecStopPost=, in the same format."""
        if status < 0:
            name = signal.Signals(-status).name[3:]
            fields = "SERVICE_RESULT=signal EXIT_CODE=killed EXIT_STATUS=%s" % name
        else:
            result = "success" if status == 0 else "exit-code"
            fields = "SERVICE_RESULT=%s EXIT_CODE=exited EXIT_STATUS=%d" % (result, status)
        temp = self.stop_record + ".tmp"
        with open(temp, "w") as f:
            f.write("%s TIME=%d\n" % (fields, time.time()))
        os.replace(temp, self.stop_record)

    def backoff(self) -> None:
        now = time.monotonic()
        self.exits = [t for t in self.exits if now - t < CRASH_WINDOW] + [now]
        if len(self.exits) > CRASH_BURST:
            time.sleep(1.0)

    def stop(self, status: int = 0) -> int:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        print("robotctl: stopped")
        return status

    def banner(self) -> None:
        line = "=" * BANNER_WIDTH
        print(line, "robotctl - robot control appliance (development mode)", line, sep="\n")
        print("Config:   %s" % self.config_path)
        print("Gateway:  http://0.0.0.0:%d  (PID %d)" % (self.port, self.children["gateway"].pid))
        print("Executor: PID %d, restarted after every update" % self.children["executor"].pid)
        print(line, "Press Ctrl+C to stop.", sep="\n", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m shared.devsupervisor", description=__doc__)
    config_module.add_arguments(parser)
    args = parser.parse_args(argv)
    path = config_module.path_from_args(args)
    try:
        config = config_module.load(path)
    except config_module.ConfigError as e:
        print("robotctl: configuration error: %s" % e, file=sys.stderr)
        return 78
    run_dir = os.path.dirname(config.ipc.command_socket[len("ipc://"):])
    return Supervisor(path, config.gateway.port, run_dir, config.executor.projects_dir).run()


def _describe(status: int) -> str:
    return "signal %s" % signal.Signals(-status).name if status < 0 else "status %d" % status


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
