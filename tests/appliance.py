"""Test harness: a real appliance (dev supervisor, gateway, executor) in a private directory.

Each Appliance gets its own free port, its own projects_dir and its own short ipc paths, so
tests never share state. Waiting is always on a condition with a generous deadline.
"""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "projects"
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    """Wait until ``condition()`` is truthy and return its value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def zip_dir(path: Path, prefix: str = "") -> bytes:
    """A zip of the folder ``path``; ``prefix`` puts every entry under that folder name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                archive.write(file, prefix + file.relative_to(path).as_posix())
    return buffer.getvalue()


def zip_files(files: Dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Appliance:
    """``make run`` in miniature, started with this interpreter (venv or Debian's python3)."""

    # Set on a TLS appliance by tests/integration/tls_support.start_tls_appliance.
    cafile: str
    fingerprint: str

    def __init__(self, root: Path, supervisor_args: Sequence[str] = (), **overrides: Dict[str, Any]):
        self.root = root
        self.supervisor_args = list(supervisor_args)
        self.port = free_port()
        # ipc paths are limited to ~107 bytes: keep sockets in a short private folder.
        self.sockdir = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        config: Dict[str, Dict[str, Any]] = {
            "gateway": {"host": "127.0.0.1", "port": self.port, "auth_token_file": None,
                        "executor_start_timeout": 20.0},
            "executor": {"projects_dir": str(root / "projects")},
            "ipc": {"command_socket": "ipc://%s/cmd.ipc" % self.sockdir,
                    "callback_socket": "ipc://%s/cb.ipc" % self.sockdir},
        }
        for section, values in overrides.items():
            config.setdefault(section, {}).update(values)
        self.config_path = root / "robotctl.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.url = "http://127.0.0.1:%d" % self.port
        self.process: Optional[subprocess.Popen] = None
        self.env: Dict[str, str] = {}     # extra environment of every process (fault injection)
        self._lines: List[str] = []
        self._lock = threading.Lock()

    @property
    def projects(self) -> Path:
        return self.root / "projects"

    @property
    def log(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def start(self) -> "Appliance":
        # ROBOTCTL_CHECK_CALLBACKS: each gateway callback checks where it runs (gateway.callbacks);
        # on unless the caller's environment says "0" (the bench measures the gateway as the
        # units run it).
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
                   ROBOTCTL_CHECK_CALLBACKS=os.environ.get("ROBOTCTL_CHECK_CALLBACKS", "1"))
        env.update(self.env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shared.devsupervisor", "--config", str(self.config_path)]
            + self.supervisor_args,
            cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        threading.Thread(target=self._read_output, daemon=True).start()
        self.wait_executors(1)
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line)

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log))

    def wait_log(self, pattern: str, count: int = 1, timeout: float = DEADLINE) -> None:
        wait_for(lambda: self.count(pattern) >= count, timeout, "log %r x%d" % (pattern, count))

    def wait_executors(self, count: int, timeout: float = DEADLINE) -> None:
        """Wait until ``count`` executors have started in total (and the first is known to
        the gateway, so the appliance serves)."""
        self.wait_log(r"executor \w+ ready \(pid", count, timeout)
        self.wait_log(r"executor \w+ is up", 1, timeout)

    def executor_pid(self) -> int:
        pids = re.findall(r"executor \w+ ready \(pid (\d+)\)", self.log)
        return int(pids[-1])

    def gateway_pid(self) -> int:
        return int(re.findall(r"robotctl gateway \S+ \(pid (\d+)\) listening", self.log)[-1])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(str(self.sockdir), ignore_errors=True)
