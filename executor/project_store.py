"""Where robot projects live on disk, and the power-cut-safe swap of the current one.

Layout under ``projects_dir``::

    default/                 the default project (installed from the bundled copy when missing)
    releases/<release-id>/   installed projects, each with a manifest written LAST
    current -> releases/<id> the project that runs; flipped atomically with rename(2)
    previous -> releases/<id> what ``current`` pointed to before the last flip (for roll-back)
    staging/                 scratch space on the same filesystem, so rename(2) works

A release directory only appears under releases/ once its files and manifest are on disk,
and ``current`` only ever points at such a directory, so a power cut at any moment leaves
either the old or the new project in place. ``prepare()`` repairs whatever else it finds.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from executor.zip_archive import ArchiveError, ArchiveLimits, extract_project

log = logging.getLogger(__name__)

MANIFEST_NAME = ".robotctl-manifest.json"
ORIGIN_DEFAULT = "default"
ORIGIN_UPLOAD = "upload"
DEFAULT_PROJECT_NAME = "default"
ADOPTED_PROJECT_NAME = "project"

_IGNORED_DIRS = ("__pycache__",)
_HASH_BLOCK = 64 * 1024
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    origin: str  # "default" or "upload"
    sha256: str
    path: Path  # the resolved release directory

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "origin": self.origin, "sha256": self.sha256,
                "path": str(self.path)}


class StoreError(Exception):
    """str(e) is a message for the user."""


class ProjectStore:
    """The projects directory. Not meant to be shared between processes; within one
    process, installs are serialised by a lock."""

    def __init__(self, projects_dir: Path, bundled_default: Path) -> None:
        self._root = Path(projects_dir)
        self._bundled_default = Path(bundled_default)
        self._default_dir = self._root / "default"
        self._releases = self._root / "releases"
        self._staging = self._root / "staging"
        self._previous_link = self._root / "previous"
        self._lock = threading.Lock()

    @property
    def current_dir(self) -> Path:
        return self._root / "current"

    # --- public operations -----------------------------------------------------------

    def prepare(self) -> ProjectInfo:
        """Called once at executor start-up: create the layout, install default/ if missing,
        clear leftovers of interrupted swaps, repair `current` (re-seed it from default/ if it
        is missing, dangling, empty or does not match its manifest; adopt a plain directory an
        operator put there), delete releases other than current and previous.

        Files the manifest does not list (logs or data the robot program wrote next to
        main.py) are tolerated; the listed files must be present and unchanged.
        """
        with self._lock, _os_errors_reported("preparing the project store"):
            self._create_layout()
            self._remove_leftovers()
            self._install_default_if_missing()
            self._repair_current()
            self._prune_releases()
        return self.current_info()

    def install_upload(self, zip_bytes: bytes, limits: ArchiveLimits) -> ProjectInfo:
        """Extract into staging with zip_archive.extract_project, write the manifest, move the
        directory into releases/, then flip `current`. Raises ArchiveError/StoreError; on any
        failure `current` and its files are untouched and staging is cleaned."""
        with self._lock, _os_errors_reported("installing the project"):
            staged = self._new_staging_path("upload")
            try:
                name = extract_project(zip_bytes, staged, limits)
                release = self._publish(staged, ORIGIN_UPLOAD, name)
            finally:
                _remove_path(staged)  # a no-op once _publish has moved it
            self._activate(release, remember_previous=True)
        log.info("installed uploaded project %r as %s", name, release.name)
        return _read_info(release)

    def reseed_from_default(self) -> ProjectInfo:
        """Copy default/ into a new release (origin "default") and flip current to it."""
        with self._lock, _os_errors_reported("installing the project"):
            release = self._reseed(remember_previous=True)
        return _read_info(release)

    def current_info(self) -> ProjectInfo:
        """The manifest of the release `current` points to; StoreError if there is none."""
        release = self._linked_release(self.current_dir)
        if release is None:
            raise StoreError("there is no current project in %s" % self._root)
        return _read_info(release)

    def previous_info(self) -> Optional[ProjectInfo]:
        """The release `current` pointed to before the last flip, if it is still usable."""
        release = self._linked_release(self._previous_link)
        if release is None or release == self._linked_release(self.current_dir):
            return None
        try:
            return _read_info(release)
        except StoreError as exc:
            log.warning("previous release %s is unusable: %s", release.name, exc)
            return None

    # --- start-up repairs ----------------------------------------------------------------

    def _create_layout(self) -> None:
        for directory in (self._root, self._releases, self._staging):
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)

    def _remove_leftovers(self) -> None:
        for link in (self.current_dir, self._previous_link):
            _remove_path(_temp_link_path(link))
        for child in self._staging.iterdir():
            log.info("removing leftover %s from an interrupted install", child)
            _remove_path(child)

    def _install_default_if_missing(self) -> None:
        if self._default_dir.is_dir():
            return
        if not self._bundled_default.is_dir():
            raise StoreError("the bundled default project %s is missing" % self._bundled_default)
        log.info("installing the default project from %s", self._bundled_default)
        staged = self._new_staging_path("default")
        try:
            _copy_project(self._bundled_default, staged)
            os.rename(str(staged), str(self._default_dir))
        finally:
            _remove_path(staged)
        _fsync(self._root)

    def _repair_current(self) -> None:
        current = self.current_dir
        if current.is_symlink():
            problem = self._linked_release_problem()
        elif current.is_dir() and any(current.iterdir()):
            self._adopt_plain_current()
            return
        elif current.is_dir():
            current.rmdir()
            problem = "it is an empty directory"
        elif current.exists():
            current.unlink()
            problem = "it is not a directory"
        else:
            problem = "it is missing"
        if problem is None:
            return
        if problem == "it is missing" and not any(self._releases.iterdir()):
            log.info("first start-up: seeding the current project from the default project")
        else:
            log.warning("re-seeding the current project from the default project: %s", problem)
        # Leaving `previous` alone means the broken release is pruned, never offered back.
        self._reseed(remember_previous=False)

    def _linked_release_problem(self) -> Optional[str]:
        release = self._linked_release(self.current_dir)
        if release is None:
            target = os.readlink(str(self.current_dir))
            return "it links to %s, which is not an installed release" % target
        return _verify_release(release)

    def _adopt_plain_current(self) -> None:
        log.warning("%s is a plain directory; adopting it as an uploaded release",
                    self.current_dir)
        files = _hash_files(self.current_dir)
        manifest = _build_manifest(ORIGIN_UPLOAD, ADOPTED_PROJECT_NAME, files)
        _write_manifest(self.current_dir, manifest)
        release = self._releases / _new_release_id(manifest["sha256"])
        # A directory cannot be swapped for a link atomically. `previous` names the release
        # before the move, so a power cut before the flip below re-seeds `current` but keeps
        # the operator's project as the roll-back target instead of pruning it.
        self._flip_link(self._previous_link, release)
        os.rename(str(self.current_dir), str(release))
        _fsync(self._releases)
        self._flip_link(self.current_dir, release)

    def _prune_releases(self) -> None:
        """Delete releases that are neither current nor previous; failures are only logged."""
        keep = {self._linked_release(self.current_dir), self._linked_release(self._previous_link)}
        for release in sorted(self._releases.iterdir()):
            if release in keep:
                continue
            log.info("deleting old release %s", release.name)
            try:
                _remove_path(release)
            except OSError as exc:
                log.warning("could not delete old release %s: %s", release, exc)

    # --- installing and flipping ---------------------------------------------------------

    def _reseed(self, remember_previous: bool) -> Path:
        staged = self._new_staging_path("default")
        try:
            _copy_project(self._default_dir, staged)
            release = self._publish(staged, ORIGIN_DEFAULT, DEFAULT_PROJECT_NAME)
        finally:
            _remove_path(staged)
        self._activate(release, remember_previous)
        log.info("current project is now a fresh copy of the default project (%s)", release.name)
        return release

    def _new_staging_path(self, purpose: str) -> Path:
        return self._staging / ("%s-%s" % (purpose, secrets.token_hex(4)))

    def _publish(self, staged: Path, origin: str, name: str) -> Path:
        """Write the manifest last, then move the complete directory into releases/."""
        manifest = _build_manifest(origin, name, _hash_files(staged))
        _write_manifest(staged, manifest)
        release = self._releases / _new_release_id(manifest["sha256"])
        os.rename(str(staged), str(release))
        _fsync(self._releases)
        _fsync(self._staging)
        return release

    def _activate(self, release: Path, remember_previous: bool) -> None:
        """Flip `current` to release; if the flip did not happen, drop the release again."""
        old = self._linked_release(self.current_dir)
        try:
            if remember_previous and old is not None and old != release:
                self._flip_link(self._previous_link, old)
            self._flip_link(self.current_dir, release)
        except BaseException:
            if self._linked_release(self.current_dir) != release:
                _remove_path(release)
            raise
        self._prune_releases()

    def _flip_link(self, link: Path, release: Path) -> None:
        """Atomically point link at releases/<id> (a relative target, so the tree can move)."""
        temp = _temp_link_path(link)
        _remove_path(temp)
        os.symlink(os.path.join(self._releases.name, release.name), str(temp))
        os.replace(str(temp), str(link))
        _fsync(self._root)

    def _linked_release(self, link: Path) -> Optional[Path]:
        """The release directory a link points to, or None if it is no link to a release."""
        if not link.is_symlink():
            return None
        try:
            target = link.resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop, on Python < 3.13
            return None
        if target.parent != self._releases.resolve() or not target.is_dir():
            return None
        return self._releases / target.name


# --- manifests and hashing (module level: they need no store state) ---------------------


def _hash_files(root: Path) -> Dict[str, str]:
    """sha256 of every regular file under root, by "/"-separated relative path.

    The manifest itself and __pycache__ directories are left out; symlinks and special files
    are too (uploads cannot contain them, and an operator's links are not project content).
    """
    files = {}
    for directory, subdirs, names in os.walk(str(root)):
        subdirs[:] = sorted(name for name in subdirs if name not in _IGNORED_DIRS)
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, str(root)).replace(os.sep, "/")
            if relative == MANIFEST_NAME or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            files[relative] = _file_sha256(path)
    return files


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def project_hash(files: Dict[str, str]) -> str:
    """sha256 over the sorted lines "<sha256hex>  <relpath>\\n" of the project's files."""
    lines = sorted("%s  %s\n" % (digest, relative) for relative, digest in files.items())
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _build_manifest(origin: str, name: str, files: Dict[str, str]) -> Dict[str, Any]:
    installed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"origin": origin, "name": name, "sha256": project_hash(files), "files": files,
            "installed_at": installed_at}


def _write_manifest(release: Path, manifest: Dict[str, Any]) -> None:
    path = release / MANIFEST_NAME
    temp = release / (MANIFEST_NAME + ".tmp")
    with open(str(temp), "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, indent=1, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(str(temp), str(path))
    _fsync(release)


def _load_manifest(release: Path) -> Dict[str, Any]:
    """The manifest of release, checked for shape; StoreError says what is wrong."""
    try:
        with open(str(release / MANIFEST_NAME), encoding="utf-8") as stream:
            manifest = json.load(stream)
    except FileNotFoundError:
        raise StoreError("the manifest of release %s is missing" % release.name) from None
    except (OSError, ValueError) as exc:
        raise StoreError("the manifest of release %s is unreadable: %s"
                         % (release.name, exc)) from exc
    if not _manifest_is_well_formed(manifest):
        raise StoreError("the manifest of release %s is malformed" % release.name)
    return manifest


def _manifest_is_well_formed(manifest: Any) -> bool:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return False
    texts = [manifest.get("name"), manifest.get("sha256")]
    texts += [text for item in manifest["files"].items() for text in item]
    return (manifest.get("origin") in (ORIGIN_DEFAULT, ORIGIN_UPLOAD)
            and all(isinstance(text, str) for text in texts))


def _verify_release(release: Path) -> Optional[str]:
    """None if the release's listed files match its manifest, else why not."""
    try:
        manifest = _load_manifest(release)
    except StoreError as exc:
        return str(exc)
    listed = manifest["files"]
    if project_hash(listed) != manifest["sha256"]:
        return "the manifest of release %s is inconsistent" % release.name
    on_disk = _hash_files(release)
    for relative in sorted(listed):
        if relative not in on_disk:
            return "file '%s' of release %s is missing" % (relative, release.name)
        if on_disk[relative] != listed[relative]:
            return "file '%s' of release %s was modified" % (relative, release.name)
    return None


def _read_info(release: Path) -> ProjectInfo:
    manifest = _load_manifest(release)
    return ProjectInfo(name=manifest["name"], origin=manifest["origin"],
                       sha256=manifest["sha256"], path=release.resolve())


def _new_release_id(project_sha256: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return "%s-%s-%s" % (stamp, project_sha256[:12], secrets.token_hex(2))


# --- filesystem helpers ------------------------------------------------------------------


def _copy_project(source: Path, dest: Path) -> None:
    """copytree without __pycache__ or a stray manifest, then make it durable."""
    failures: List[OSError] = []

    def copy_file(source_file: str, dest_file: str) -> None:
        try:
            shutil.copy2(source_file, dest_file)
        except OSError as exc:
            failures.append(exc)
            raise

    try:
        shutil.copytree(str(source), str(dest), symlinks=True, copy_function=copy_file,
                        ignore=shutil.ignore_patterns(MANIFEST_NAME, *_IGNORED_DIRS))
    except shutil.Error:
        if failures:  # copytree flattens errors into text; keep the errno (ENOSPC!)
            raise failures[0] from None
        raise
    for directory, _subdirs, names in os.walk(str(dest)):
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                _fsync(Path(path))
        _fsync(Path(directory))


def _fsync(path: Path) -> None:
    """fsync a file or a directory (a directory's fsync makes its entries durable)."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_link_path(link: Path) -> Path:
    return link.with_name(link.name + ".new")


def _remove_path(path: Path) -> None:
    """Remove a file, link or directory tree; nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(str(path))
    elif path.is_symlink() or path.exists():
        path.unlink()


@contextmanager
def _os_errors_reported(doing: str) -> Iterator[None]:
    """Turn OSErrors into StoreErrors, including ArchiveErrors that a failed write caused:
    a full or read-only disk is the robot's problem, not the upload's."""
    try:
        yield
    except ArchiveError as exc:
        cause = exc.__cause__
        if not isinstance(cause, OSError):
            raise
        if cause.errno in _DISK_FULL_ERRNOS:
            raise StoreError("disk full while %s: %s" % (doing, cause.strerror)) from exc
        raise StoreError("error while %s: %s" % (doing, exc)) from exc
    except OSError as exc:
        if exc.errno in _DISK_FULL_ERRNOS:
            raise StoreError("disk full while %s: %s" % (doing, exc.strerror)) from exc
        raise StoreError("error while %s: %s" % (doing, exc)) from exc
