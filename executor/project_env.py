"""Each project's own Python environment, built from its requirements.txt at upload.

Layout under ``projects_dir/envs``::

    <id>/                 a venv (--system-site-packages: apt's packages stay importable)
    <id>/robotctl-env.json  written LAST: distributions, size, robotctl's interpreter;
                          without it the venv is unusable

``id`` hashes the interpreter, the mode, requirements.txt and every file in wheels/, so an
upload with the same dependencies and new code reuses the environment at once: releases
share it (their manifests name it), and it goes when no release names it any more. A venv
cannot be moved (its scripts name their own path), so it is built in place and becomes
usable only when its marker is written, after pip succeeded; a crash mid-install leaves a
venv without a marker, which nothing uses and the next start-up deletes. The release that
names it is published only after that.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

# pip_install and subprocess are imported where an environment is built (an upload with
# requirements): not at every executor start, which keeps its idle RSS down.
from executor import interpreter
from executor.release_manifest import ManifestError, environment_of, hash_files
from shared.digest import sha256
from shared.fsutil import fsync_path, write_atomically

log = logging.getLogger(__name__)

REQUIREMENTS = "requirements.txt"
WHEELS = "wheels"
MARKER = "robotctl-env.json"
_MODE_HINTS = {"offline": "offline: only wheels/ is searched",
               "index": "index: the robot's pip configuration is used"}


class EnvError(Exception):
    """An environment could not be built or is too big; str(e) is for the user."""


def _not_installed(reason: str) -> EnvError:
    return EnvError("requirements could not be installed: " + reason)


@dataclass(frozen=True)
class Settings:
    mode: str              # executor.requirements
    timeout: float         # executor.install_timeout
    max_size: int          # executor.max_project_size: the release and its environment


class EnvironmentCache:
    """The envs/ directory: which environments are complete, in use, and how big."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pinned: Set[str] = set()       # built, not yet named by a published release
        self._pin_lock = threading.Lock()
        self.build_lock = threading.Lock()   # one pip at a time

    def python(self, env_id: str) -> Path:
        return self.root / env_id / "bin" / "python"

    def running(self) -> Optional[str]:
        """The environment this process runs in, if it runs in one."""
        return interpreter.running_environment(self.root)

    def runtime(self) -> Dict[str, Any]:
        """robotctl's own interpreter {python, site} (see interpreter.runtime)."""
        running = self.running()
        return interpreter.runtime(None if running is None else self.marker(running))

    def interpreter_for(self, env_id: Optional[str]) -> str:
        """The python a release with environment env_id (None: none) runs on."""
        return str(self.python(env_id)) if env_id else self.runtime()["python"]

    @staticmethod
    def of(release: Path) -> Optional[str]:
        """The environment a release names; None if none (or its manifest is unreadable:
        the store's checks report that)."""
        try:
            return environment_of(release)
        except ManifestError:
            return None

    def link_current(self, link: Path, release: Path) -> None:
        """Point ``link`` (projects_dir/current-env, read by the unit's launcher) at the
        environment of ``release``, the current one, or remove it when that has none."""
        env_id = self.of(release)
        if env_id is None:
            if link.is_symlink():
                link.unlink()
            return
        temp = link.with_name(link.name + ".new")
        if temp.is_symlink():
            temp.unlink()
        os.symlink(os.path.join(self.root.name, env_id), str(temp))
        os.replace(str(temp), str(link))

    def marker(self, env_id: str) -> Optional[Dict[str, Any]]:
        """The complete environment's record, None if it is missing or half-built."""
        try:
            with open(str(self.root / env_id / MARKER), encoding="utf-8") as stream:
                record = json.load(stream)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def problem(self, env_id: Optional[str]) -> Optional[str]:
        """None if a release naming env_id can run, else why not."""
        if env_id is None or self.marker(env_id) is not None:
            return None
        return "its environment %s is missing or incomplete" % env_id

    def describe(self, env_id: Optional[str]) -> Optional[Dict[str, Any]]:
        """{id, distributions: [{name, version}], bytes} of a complete environment."""
        record = None if env_id is None else self.marker(env_id)
        if record is None:
            return None
        return {"id": env_id, "distributions": record.get("distributions", []),
                "bytes": record.get("bytes", 0)}

    def usage(self) -> Dict[str, int]:
        """Disk used by every complete environment (each counted once, however shared)."""
        records = [self.marker(p.name) for p in self._entries()]
        sizes = [r.get("bytes", 0) for r in records if r is not None]
        return {"count": len(sizes), "bytes": sum(sizes)}

    def pin(self, env_id: str) -> None:
        with self._pin_lock:
            self._pinned.add(env_id)

    def unpin(self, env_id: Optional[str]) -> None:
        with self._pin_lock:
            self._pinned.discard(env_id or "")

    def prune(self, releases: Path) -> None:
        """Delete environments no release in ``releases`` names, and half-built ones, unless
        an install in progress pinned them."""
        named = _named_environments(releases)
        with self._pin_lock:
            pinned = set(self._pinned)
        for path in self._entries():
            if path.name in pinned or (path.name in named and self.marker(path.name)):
                continue
            log.info("deleting the environment %s (no release uses it)", path.name)
            shutil.rmtree(str(path), ignore_errors=True)

    def _entries(self) -> List[Path]:
        try:
            return sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []


def _named_environments(releases: Path) -> Set[str]:
    named = {EnvironmentCache.of(release) for release in releases.iterdir()}
    return {env_id for env_id in named if env_id is not None}


def requirement_lines(project: Path) -> List[str]:
    """requirements.txt's lines that say something (no blanks, no comments)."""
    try:
        text = (project / REQUIREMENTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def environment_id(cache: EnvironmentCache, project: Path, mode: str) -> str:
    """A hash of what the environment is made of: interpreter, mode, requirements, wheels."""
    digest = sha256()
    python = cache.runtime()["python"]
    digest.update(("%s\n%s\n%s\n" % (os.path.realpath(python), _python_version(), mode)).encode())
    digest.update((project / REQUIREMENTS).read_bytes())
    wheels = project / WHEELS
    if wheels.is_dir():
        for relative, file_hash in sorted(hash_files(wheels).items()):
            digest.update(("\0%s %s" % (file_hash, relative)).encode("utf-8"))
    return digest.hexdigest()[:24]


def build(cache: EnvironmentCache, project: Path, settings: Settings) -> Optional[str]:
    """The id of a complete environment for the project in directory ``project``, building
    it if no upload built it before; None if the project needs none. The id is pinned
    until the caller unpins it. EnvError if it cannot be built or is too big."""
    if settings.mode == "check" or not requirement_lines(project):
        return None
    started = time.monotonic()
    env_id = environment_id(cache, project, settings.mode)
    cache.pin(env_id)
    built = False
    try:
        with cache.build_lock:
            built = cache.marker(env_id) is None
            if built:
                _build_new(cache, env_id, project, settings)
            else:
                log.info("reusing the environment %s for the same requirements", env_id)
                from executor import pip_install
                pip_install.echo("requirements unchanged: reusing environment %s" % env_id)
        _check_size(cache, env_id, project, settings.max_size)
        log.info("environment %s %s in %.0f ms", env_id, "built" if built else "reused",
                 (time.monotonic() - started) * 1000)
    except BaseException:
        if built:     # no release names it: it would only wait for the next prune
            shutil.rmtree(str(cache.root / env_id), ignore_errors=True)
        cache.unpin(env_id)
        raise
    return env_id


def _build_new(cache: EnvironmentCache, env_id: str, project: Path, settings: Settings) -> None:
    path = cache.root / env_id
    shutil.rmtree(str(path), ignore_errors=True)   # a half-built one from a crash
    cache.root.mkdir(parents=True, exist_ok=True)
    log.info("building the environment %s for the project's requirements (%s)",
             env_id, settings.mode)
    try:
        runtime = cache.runtime()
        _create_venv(path, runtime)
        _install(cache.python(env_id), project, settings)
        _write_marker(path, runtime)
    except BaseException:
        shutil.rmtree(str(path), ignore_errors=True)
        raise


def _create_venv(path: Path, runtime: Dict[str, Any]) -> None:
    """--without-pip: the venv runs the system's pip (python3-pip), seen through
    --system-site-packages, which saves seconds per build."""
    import subprocess
    command = [runtime["python"], "-m", "venv", "--system-site-packages", "--without-pip",
               str(path)]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        output = done.stdout.decode("utf-8", "replace").strip().splitlines() or [""]
        raise _not_installed("cannot create a virtual environment (is python3-venv "
                             "installed?): %s" % output[-1])
    site_dirs = runtime["site"]
    if site_dirs:   # robotctl runs from a venv (development): keep its packages importable
        for packages in path.glob("lib/python*/site-packages"):
            (packages / "robotctl-runtime.pth").write_text("\n".join(site_dirs) + "\n")


def _install(python: Path, project: Path, settings: Settings) -> None:
    from executor import pip_install
    offline = settings.mode == "offline"
    sources = ["--no-index", "--find-links", WHEELS] if offline else []
    arguments = ["install"] + list(pip_install.COMMON_OPTIONS) + sources + ["-r", REQUIREMENTS]
    env = pip_install.pip_environment(offline)
    result = pip_install.run(python, arguments, project, env, settings.timeout)
    if result.returncode == 0:
        return
    if result.returncode is None:
        raise _not_installed("pip did not finish within executor.install_timeout (%g s)"
                             % settings.timeout)
    missing = result.missing_requirement()
    if missing and pip_install.sdist_only(python, missing, sources, project, env,
                                          settings.timeout):
        raise _not_installed("%s has only a source distribution, and robotctl installs "
                             "wheels only: build a wheel for it (pip wheel) and put it in "
                             "wheels/" % missing)
    raise _not_installed("%s (%s)" % (result.error_line, _MODE_HINTS[settings.mode]))


def _write_marker(path: Path, runtime: Dict[str, Any]) -> None:
    """The environment's record, written last and durably: from here on it is usable."""
    record = {"distributions": _distributions(path), "bytes": _tree_size(path),
              "python": _python_version(), "runtime": runtime}
    write_atomically(path / MARKER, json.dumps(record, sort_keys=True), durable=True)
    fsync_path(path.parent)


def _distributions(path: Path) -> List[Dict[str, str]]:
    """Name and version of each distribution installed in the environment itself."""
    found = []
    for metadata in sorted(path.glob("lib/python*/site-packages/*.dist-info/METADATA")):
        fields: Dict[str, str] = {}
        with open(str(metadata), encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if not line.strip():
                    break       # the headers end at the first blank line
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())
        if "name" in fields:
            found.append({"name": fields["name"], "version": fields.get("version", "")})
    return found


def _check_size(cache: EnvironmentCache, env_id: str, project: Path, max_size: int) -> None:
    env_bytes = (cache.marker(env_id) or {}).get("bytes", 0)
    total = _tree_size(project) + env_bytes
    if total > max_size:
        raise EnvError("the project and its environment take %d bytes, more than "
                       "executor.max_project_size (%d)" % (total, max_size))


def _tree_size(root: Path) -> int:
    total = 0
    for directory, _subdirs, names in os.walk(str(root)):
        for name in names:
            try:
                stat = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            total += stat.st_size
    return total


def _python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])
