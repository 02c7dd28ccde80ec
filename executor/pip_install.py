"""Running pip as a subprocess: its lines streamed as they come, a time limit, its own
error line kept for the reply.

pip runs in a child process so the executor's main loop (and the watchdog it feeds) never
waits for it; the calling worker thread reads its output. Each line goes to the executor's
stdout, which output_capture turns into ``robotctl:log`` lines and the journal.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from shared.protocol import INSTALL_LOG_PREFIX
# Every mode: binary wheels only (nothing compiles on the robot), no prompts, no cache in
# the robotctl user's home, no progress bars (the output is a pipe anyway).
COMMON_OPTIONS = ("--disable-pip-version-check", "--no-input", "--no-cache-dir",
                  "--progress-bar", "off", "--only-binary", ":all:")
_SDIST_SKIPPED = re.compile(r"No sources permitted for ([^:\s]+)")
_NOT_FOUND = re.compile(r"No matching distribution found for (.+)$")
_TAIL_LINES = 200
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class PipRun:
    returncode: Optional[int]   # None: killed at the time limit
    lines: List[str]            # the last lines of its output

    @property
    def error_line(self) -> str:
        """pip's own reason: its last ``ERROR:`` line, else its last line."""
        for line in reversed(self.lines):
            if line.startswith("ERROR: "):
                return line[len("ERROR: "):]
        return self.lines[-1] if self.lines else "pip exited with status %s" % self.returncode

    def missing_requirement(self) -> Optional[str]:
        """The requirement pip found no distribution for, if that is why it failed."""
        match = _NOT_FOUND.search(self.error_line)
        return match.group(1).strip() if match else None


def pip_environment(offline: bool) -> Dict[str, str]:
    """The robot's environment for pip; offline, without any pip configuration at all
    (no config files, no PIP_* variables such as an index or extra find-links)."""
    env = dict(os.environ)
    if offline:
        env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
    return env


def echo(line: str) -> None:
    """A line of pip's output to the executor's stdout (the clients and the journal)."""
    data = (INSTALL_LOG_PREFIX + line + "\n").encode("utf-8", "replace")
    try:
        os.write(1, data)
    except OSError:
        pass


def run(python: Path, arguments: Sequence[str], cwd: Path, env: Dict[str, str],
        timeout: float, on_line: Callable[[str], None] = echo) -> PipRun:
    """``python -m pip ARGUMENTS``, each output line handed to ``on_line`` as it comes;
    killed (with its children) after ``timeout`` seconds."""
    command = [str(python), "-m", "pip"] + list(arguments)
    process = subprocess.Popen(command, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, preexec_fn=_dies_with_parent())
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    lines: List[str] = []
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            lines = lines[-_TAIL_LINES:] + [line]
            on_line(line)
        returncode = process.wait()
    finally:
        timer.cancel()
        process.stdout.close()   # type: ignore[union-attr]
    return PipRun(None if expired.is_set() else returncode, lines)


def _dies_with_parent() -> Callable[[], None]:
    """For the child: SIGKILL when the executor dies (a crash mid-install must not leave pip
    writing into an environment the next executor deletes). ctypes is loaded here, in the
    parent, only when pip runs: nothing is imported after fork."""
    import ctypes
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def sdist_only(python: Path, requirement: str, source_options: Sequence[str], cwd: Path,
               env: Dict[str, str], timeout: float) -> bool:
    """Whether ``requirement`` failed only because its one distribution is an sdist: pip's
    debug output of a dry run names each source distribution it skipped."""
    arguments = (["install", "--dry-run", "--no-deps", "-vv"] + list(COMMON_OPTIONS)
                 + list(source_options) + [requirement])
    skipped: List[str] = []
    run(python, arguments, cwd, env, timeout,
        on_line=lambda line: skipped.extend(_SDIST_SKIPPED.findall(line)))
    return bool(skipped)
