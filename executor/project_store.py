"""Where robot projects live on disk, and the power-cut-safe swap of the current one.

Layout under ``projects_dir``::

    default/                 the default project (installed from the bundled copy when missing)
    releases/<release-id>/   installed projects, each with a manifest written LAST
    current -> releases/<id> the project that runs; flipped atomically with rename(2)
    previous -> releases/<id> what ``current`` pointed to before the last flip (for roll-back)
    last_good -> releases/<id> the last release marked good (see ``mark_good``/``rollback``)
    staging/                 scratch space on the same filesystem, so rename(2) works
    envs/<id>/               Python environments that releases name (see executor.project_env)
    current-env -> envs/<id> the environment of the current release, if it has one

A release directory only appears under releases/ once its files and manifest are on disk,
and ``current`` only ever points at such a directory, so a power cut at any moment leaves
either the old or the new project in place. ``prepare()`` repairs whatever else it finds.
The manifest format and its checks live in executor.release_manifest.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from executor.project_env import EnvironmentCache
from executor.release_manifest import (
    ORIGIN_DEFAULT, ORIGIN_UPLOAD, ProjectInfo, build_manifest, copy_project,
    hash_files, stat_files, verify_release, write_manifest)
from executor.store_errors import StoreError, os_errors_reported, release_info
from executor.zip_archive import DEFAULT_PROJECT_NAME as DEFAULT_UPLOAD_NAME, ArchiveLimits
from executor.zip_archive import extract_project
from shared.fsutil import fsync_path, remove_path

log = logging.getLogger(__name__)

DEFAULT_PROJECT_NAME = "default"
ADOPTED_PROJECT_NAME = "project"



class ProjectStore:
    """The projects directory, owned by one process; installs are serialised by a lock."""

    def __init__(self, projects_dir: Path, bundled_default: Path) -> None:
        self._root = Path(projects_dir)
        self._bundled_default = Path(bundled_default)
        self._default_dir = self._root / "default"
        self._releases = self._root / "releases"
        self._staging = self._root / "staging"
        self._previous_link = self._root / "previous"
        self._last_good_link = self._root / "last_good"
        self._lock = threading.Lock()
        self.environments = EnvironmentCache(self._root / "envs")
        self._current_env_link = self._root / "current-env"

    @property
    def current_dir(self) -> Path:
        return self._root / "current"

    @property
    def default_dir(self) -> Path:
        return self._default_dir

    # --- public operations -----------------------------------------------------------

    def prepare(self, clean_exit: bool = False) -> ProjectInfo:
        """Called once at executor start-up: create the layout, install default/ if missing,
        clear leftovers of interrupted swaps, repair `current`, delete releases other than
        current, previous and last_good.

        A `current` that is missing, dangling, empty or does not match its manifest (see
        release_manifest.verify_release) is replaced by the last good release when that one
        verifies, else by a fresh copy of default/; a plain directory an operator put there
        is adopted as an upload. After a ``clean_exit`` of the previous executor, `current`
        is checked by size and modification time; otherwise (a crash, a boot) by its hashes.
        """
        with self._lock, os_errors_reported("preparing the project store"):
            self._create_layout()
            self._remove_leftovers()
            self._install_default_if_missing()
            self._repair_current(hashes=not clean_exit)
            self.environments.link_current(self._current_env_link, self._current_release())
            self._prune_releases()
        return self.current_info()

    def install_upload(self, zip_bytes: bytes, limits: ArchiveLimits, name: Optional[str] = None,
                       environment_for: Optional[Callable[[Path], Optional[str]]] = None
                       ) -> ProjectInfo:
        """Extract into staging with zip_archive.extract_project, have ``environment_for``
        (project_env.build) make its environment, write the manifest, move the directory
        into releases/, then flip `current`. Raises ArchiveError/StoreError (and whatever
        environment_for raises); on any failure `current` and its files are untouched and
        staging is cleaned. The project is named after the archive's top folder, else
        ``name`` (the uploaded file's name). The environment is built without the store's
        lock: pip may take minutes, and the main loop takes the lock (mark_good)."""
        staged, environment = self._new_staging_path("upload"), None
        try:
            with self._lock, os_errors_reported("installing the project"):
                found = extract_project(zip_bytes, staged, limits)
            with os_errors_reported("installing the project's requirements"):
                environment = environment_for(staged) if environment_for else None
            with self._lock, os_errors_reported("installing the project"):
                if found == DEFAULT_UPLOAD_NAME and name:
                    found = name
                release = self._publish(staged, ORIGIN_UPLOAD, found, environment)
                self._activate(release, remember_previous=True)
        finally:
            remove_path(staged)  # a no-op once _publish has moved it
            self.environments.unpin(environment)
        log.info("installed uploaded project %r as %s", found, release.name)
        return release_info(release)

    def reseed_from_default(self) -> ProjectInfo:
        """Copy default/ into a new release (origin "default") and flip current to it."""
        with self._lock, os_errors_reported("installing the project"):
            release = self._reseed(remember_previous=True)
        return release_info(release)

    def mark_good(self) -> ProjectInfo:
        """Point `last_good` at the release `current` points to, once it proved itself.

        Idempotent: no flip if last_good already points there. StoreError if there is no
        current release or it does not match its manifest (it must never become the
        fallback); last_good is then left as it was.
        """
        with self._lock, os_errors_reported("marking the project good"):
            release = self._current_release()
            problem = self._release_problem(release)
            if problem is not None:
                raise StoreError("cannot mark the current project good: %s" % problem)
            if self._linked_release(self._last_good_link) != release:
                self._flip_link(self._last_good_link, release)
                log.info("marked release %s as the last good project", release.name)
        return release_info(release)

    def rollback(self) -> ProjectInfo:
        """Abandon the current release (a crash loop): flip `current` to last_good when that
        exists, matches its manifest and is not the current release; otherwise flip it to a
        fresh copy of default/. The abandoned release stays as `previous` for inspection.
        Returns the new current project."""
        with self._lock, os_errors_reported("rolling back the project"):
            abandoned = self._linked_release(self.current_dir)
            why = "rolling back from release %s" % ("(none)" if abandoned is None
                                                    else abandoned.name)
            problem = self._last_good_problem(abandoned)
            if problem is None:
                release = self._use_last_good(why, remember_previous=True)
            else:
                log.warning("re-seeding the current project from the default project: %s (%s)",
                            why, problem)
                release = self._reseed(remember_previous=True)
        return release_info(release)

    def current_info(self) -> ProjectInfo:
        """The manifest of the release `current` points to; StoreError if there is none."""
        return release_info(self._current_release())

    def current_environment(self) -> Optional[str]:
        """The id of the environment the current release runs in, None if it has none."""
        return self.environments.of(self._current_release())

    def current_release_id(self) -> str:
        """The name of the release directory `current` points to; StoreError if none."""
        return self._current_release().name

    def previous_info(self) -> Optional[ProjectInfo]:
        """The release `current` pointed to before the last flip, if it is still usable."""
        release = self._linked_release(self._previous_link)
        if release is None or release == self._linked_release(self.current_dir):
            return None
        return self._usable_info(release, "previous")

    def last_good_info(self) -> Optional[ProjectInfo]:
        """The release last marked good (it may be the current one), if its manifest is
        readable. Its files are not re-hashed here; rollback() and prepare() verify them."""
        release = self._linked_release(self._last_good_link)
        return None if release is None else self._usable_info(release, "last good")

    def _current_release(self) -> Path:
        release = self._linked_release(self.current_dir)
        if release is None:
            raise StoreError("there is no current project in %s" % self._root)
        return release

    def _usable_info(self, release: Path, role: str) -> Optional[ProjectInfo]:
        try:
            return release_info(release)
        except StoreError as exc:
            log.warning("%s release %s is unusable: %s", role, release.name, exc)
            return None

    # --- start-up repairs ----------------------------------------------------------------

    def _create_layout(self) -> None:
        for directory in (self._root, self._releases, self._staging):
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)

    def _remove_leftovers(self) -> None:
        for link in (self.current_dir, self._previous_link, self._last_good_link,
                     self._current_env_link):
            remove_path(_temp_link_path(link))
        for child in self._staging.iterdir():
            log.info("removing leftover %s from an interrupted install", child)
            remove_path(child)

    def _install_default_if_missing(self) -> None:
        if self._default_dir.is_dir():
            return
        if not self._bundled_default.is_dir():
            raise StoreError("the bundled default project %s is missing" % self._bundled_default)
        log.info("installing the default project from %s", self._bundled_default)
        staged = self._new_staging_path("default")
        try:
            copy_project(self._bundled_default, staged)
            os.rename(str(staged), str(self._default_dir))
        finally:
            remove_path(staged)
        fsync_path(self._root)

    def _repair_current(self, hashes: bool) -> None:
        current = self.current_dir
        if current.is_symlink():
            problem = self._linked_release_problem(hashes)
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
            self._reseed(remember_previous=False)
        else:
            self._replace_broken_current(problem)

    def _replace_broken_current(self, problem: str) -> None:
        """Fall back to the last good release if it verifies, else to default/. Leaving
        `previous` alone means the broken release is pruned, never offered back."""
        last_good_problem = self._last_good_problem(self._linked_release(self.current_dir))
        if last_good_problem is None:
            self._use_last_good(problem, remember_previous=False)
        else:
            log.warning("re-seeding the current project from the default project: %s (%s)",
                        problem, last_good_problem)
            self._reseed(remember_previous=False)

    def _last_good_problem(self, replacing: Optional[Path]) -> Optional[str]:
        """None if last_good can replace the release `replacing`, else why not."""
        release = self._linked_release(self._last_good_link)
        if release is None:
            return "there is no last good project"
        if release == replacing:
            return "the last good project %s is the one being replaced" % release.name
        problem = self._release_problem(release)
        if problem is not None:
            return "the last good project is unusable: %s" % problem
        return None

    def _use_last_good(self, why: str, remember_previous: bool) -> Path:
        release = self._linked_release(self._last_good_link)
        assert release is not None, "checked by _last_good_problem"
        log.warning("replacing the current project with the last good project %s: %s",
                    release.name, why)
        self._point_current_at(release, remember_previous)
        self._prune_releases()
        return release

    def _linked_release_problem(self, hashes: bool) -> Optional[str]:
        release = self._linked_release(self.current_dir)
        if release is None:
            target = os.readlink(str(self.current_dir))
            return "it links to %s, which is not an installed release" % target
        return self._release_problem(release, hashes)

    def _release_problem(self, release: Path, hashes: bool = True) -> Optional[str]:
        """None if the release's files match its manifest and its environment is complete."""
        return verify_release(release, hashes) or self.environments.problem(
            self.environments.of(release))

    def _adopt_plain_current(self) -> None:
        log.warning("%s is a plain directory; adopting it as an uploaded release",
                    self.current_dir)
        files = hash_files(self.current_dir)
        manifest = build_manifest(ORIGIN_UPLOAD, ADOPTED_PROJECT_NAME, files)
        write_manifest(self.current_dir, manifest)
        release = self._releases / _new_release_id(manifest["sha256"])
        # A directory cannot be swapped for a link atomically. `previous` names the release
        # before the move, so a power cut before the flip below re-seeds `current` but keeps
        # the operator's project as the roll-back target instead of pruning it.
        self._flip_link(self._previous_link, release)
        os.rename(str(self.current_dir), str(release))
        fsync_path(self._releases)
        self._flip_link(self.current_dir, release)

    def _prune_releases(self) -> None:
        """Delete releases other than current, previous and last_good; failures are only
        logged."""
        keep = {self._linked_release(link)
                for link in (self.current_dir, self._previous_link, self._last_good_link)}
        for release in sorted(self._releases.iterdir()):
            if release in keep:
                continue
            log.info("deleting old release %s", release.name)
            try:
                remove_path(release)
            except OSError as exc:
                log.warning("could not delete old release %s: %s", release, exc)
        self.environments.prune(self._releases)

    # --- installing and flipping ---------------------------------------------------------

    def _reseed(self, remember_previous: bool) -> Path:
        staged = self._new_staging_path("default")
        try:
            copy_project(self._default_dir, staged)
            release = self._publish(staged, ORIGIN_DEFAULT, DEFAULT_PROJECT_NAME)
        finally:
            remove_path(staged)
        self._activate(release, remember_previous)
        log.info("current project is now a fresh copy of the default project (%s)", release.name)
        return release

    def _new_staging_path(self, purpose: str) -> Path:
        return self._staging / ("%s-%s" % (purpose, os.urandom(4).hex()))

    def _publish(self, staged: Path, origin: str, name: str,
                 environment: Optional[str] = None) -> Path:
        """Write the manifest last, then move the complete directory into releases/."""
        files = hash_files(staged)
        manifest = build_manifest(origin, name, files, stat_files(staged, files), environment)
        write_manifest(staged, manifest)
        release = self._releases / _new_release_id(manifest["sha256"])
        os.rename(str(staged), str(release))
        fsync_path(self._releases)
        fsync_path(self._staging)
        return release

    def _activate(self, release: Path, remember_previous: bool) -> None:
        """Flip `current` to a just-published release; if the flip did not happen, drop the
        release again (never used for last_good: that release must survive a failed flip)."""
        try:
            self._point_current_at(release, remember_previous)
        except BaseException:
            if self._linked_release(self.current_dir) != release:
                remove_path(release)
            raise
        self._prune_releases()

    def _point_current_at(self, release: Path, remember_previous: bool) -> None:
        old = self._linked_release(self.current_dir)
        if remember_previous and old is not None and old != release:
            self._flip_link(self._previous_link, old)
        self._flip_link(self.current_dir, release)

    def _flip_link(self, link: Path, release: Path) -> None:
        """Atomically point link at releases/<id> (a relative target, so the tree can move)."""
        temp = _temp_link_path(link)
        remove_path(temp)
        os.symlink(os.path.join(self._releases.name, release.name), str(temp))
        os.replace(str(temp), str(link))
        if link == self.current_dir:
            self.environments.link_current(self._current_env_link, release)
        fsync_path(self._root)

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


def _new_release_id(project_sha256: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return "%s-%s-%s" % (stamp, project_sha256[:12], os.urandom(2).hex())


def _temp_link_path(link: Path) -> Path:
    return link.with_name(link.name + ".new")


