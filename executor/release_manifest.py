"""The manifest of an installed release: what it lists, how it is hashed, written and checked.

Each release directory holds ``MANIFEST_NAME``, a JSON object::

    {"origin": "default" | "upload", "name": <project name>,
     "sha256": <project_hash of files>, "files": {<relpath>: <sha256hex>},
     "stats": {<relpath>: [<size>, <mtime_ns>]},
     "installed_at": "YYYY-MM-DDTHH:MM:SSZ",
     "environment": <environment id>}       (only when the project has one: project_env)

``stats`` lets a start after a clean exit trust a release by size and modification time
(microseconds) instead of re-hashing it (seconds for a large one); a start after a crash or
at boot verifies the hashes. Manifests written before ``stats`` existed are always hashed.

The store writes it LAST, so a release whose files match its manifest is complete. This
module knows nothing about the store's layout or links: it works on one directory at a time
(copying project files into it, hashing them, writing and checking the manifest).
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from executor.file_digests import sha256_files
from shared.digest import sha256
from shared.fsutil import fsync_path, write_atomically

MANIFEST_NAME = ".robotctl-manifest.json"
ORIGIN_DEFAULT = "default"
ORIGIN_UPLOAD = "upload"
# Python writes these next to imported modules; they are never project content.
_IGNORED_DIRS = ("__pycache__",)



@dataclass(frozen=True)
class ProjectInfo:
    name: str
    origin: str  # "default" or "upload"
    sha256: str
    path: Path  # the resolved release directory

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "origin": self.origin, "sha256": self.sha256,
                "path": str(self.path)}


class ManifestError(Exception):
    """A release's manifest is missing, unreadable or malformed; str(e) is for the user."""


def hash_files(root: Path) -> Dict[str, str]:
    """sha256 of every regular file under root, by "/"-separated relative path.

    The manifest itself and __pycache__ directories are left out; symlinks and special files
    are too (uploads cannot contain them, and an operator's links are not project content).
    """
    relatives, paths, total = [], [], 0
    for directory, subdirs, names in os.walk(str(root)):
        subdirs[:] = sorted(name for name in subdirs if name not in _IGNORED_DIRS)
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, str(root)).replace(os.sep, "/")
            info = os.lstat(path)
            if relative == MANIFEST_NAME or not stat.S_ISREG(info.st_mode):
                continue
            relatives.append(relative)
            paths.append(path)
            total += info.st_size
    return dict(zip(relatives, sha256_files(paths, total)))


def stat_files(root: Path, files: Dict[str, str]) -> Dict[str, List[int]]:
    """[size, mtime_ns] of each listed file: what a start after a clean exit compares."""
    return {relative: _stat_of(root / relative) for relative in files}


def _stat_of(path: Path) -> List[int]:
    info = os.lstat(str(path))
    return [info.st_size, info.st_mtime_ns]


def project_hash(files: Dict[str, str]) -> str:
    """sha256 over the sorted lines "<sha256hex>  <relpath>\\n" of the project's files."""
    lines = sorted("%s  %s\n" % (digest, relative) for relative, digest in files.items())
    return sha256("".join(lines).encode("utf-8")).hexdigest()


def build_manifest(origin: str, name: str, files: Dict[str, str],
                   stats: Optional[Dict[str, List[int]]] = None,
                   environment: Optional[str] = None) -> Dict[str, Any]:
    """A manifest for files (as hash_files returns them), stamped with the current time;
    ``stats`` (as stat_files returns them) lets later clean starts skip the hashing."""
    installed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest = {"origin": origin, "name": name, "sha256": project_hash(files), "files": files,
                "installed_at": installed_at}
    if stats is not None:
        manifest["stats"] = stats
    if environment is not None:
        manifest["environment"] = environment
    return manifest


def write_manifest(release: Path, manifest: Dict[str, Any]) -> None:
    """Write the manifest into release atomically and durably (temp file, fsync, rename)."""
    write_atomically(release / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True),
                     durable=True)


def load_manifest(release: Path) -> Dict[str, Any]:
    """The manifest of release, checked for shape; ManifestError says what is wrong."""
    try:
        with open(str(release / MANIFEST_NAME), encoding="utf-8") as stream:
            manifest: Dict[str, Any] = json.load(stream)
    except FileNotFoundError:
        raise ManifestError("the manifest of release %s is missing" % release.name) from None
    except (OSError, ValueError) as exc:
        raise ManifestError("the manifest of release %s is unreadable: %s"
                            % (release.name, exc)) from exc
    if not _manifest_is_well_formed(manifest):
        raise ManifestError("the manifest of release %s is malformed" % release.name)
    return manifest


def _manifest_is_well_formed(manifest: Any) -> bool:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return False
    texts = [manifest.get("name"), manifest.get("sha256"), manifest.get("environment", "")]
    texts += [text for item in manifest["files"].items() for text in item]
    return (manifest.get("origin") in (ORIGIN_DEFAULT, ORIGIN_UPLOAD)
            and all(isinstance(text, str) for text in texts)
            and _stats_are_well_formed(manifest.get("stats", {})))


def _stats_are_well_formed(stats: Any) -> bool:
    return isinstance(stats, dict) and all(
        isinstance(value, list) and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in value)
        for value in stats.values())


def verify_release(release: Path, hashes: bool = True) -> Optional[str]:
    """None if the release's listed files match its manifest, else why not.

    Files the manifest does not list (logs or data the robot program wrote next to
    main.py) are tolerated; the listed files must be present and unchanged. With
    ``hashes=False`` (a start after a clean exit) "unchanged" means the same size and
    modification time as recorded, when the manifest recorded them; else the hashes match.
    """
    try:
        manifest = load_manifest(release)
    except ManifestError as exc:
        return str(exc)
    listed = manifest["files"]
    if project_hash(listed) != manifest["sha256"]:
        return "the manifest of release %s is inconsistent" % release.name
    stats = manifest.get("stats")
    if not hashes and stats is not None and set(stats) == set(listed):
        return _stats_problem(release, stats)
    on_disk = hash_files(release)
    for relative in sorted(listed):
        if relative not in on_disk:
            return "file '%s' of release %s is missing" % (relative, release.name)
        if on_disk[relative] != listed[relative]:
            return "file '%s' of release %s was modified" % (relative, release.name)
    return None


def _stats_problem(release: Path, stats: Dict[str, List[int]]) -> Optional[str]:
    for relative in sorted(stats):
        try:
            found = _stat_of(release / relative)
        except FileNotFoundError:
            return "file '%s' of release %s is missing" % (relative, release.name)
        if found != stats[relative]:
            return "file '%s' of release %s was modified" % (relative, release.name)
    return None


def read_info(release: Path) -> ProjectInfo:
    """The release's ProjectInfo from its manifest alone (files are not re-hashed);
    ManifestError if the manifest is unusable."""
    manifest = load_manifest(release)
    return ProjectInfo(name=manifest["name"], origin=manifest["origin"],
                       sha256=manifest["sha256"], path=release.resolve())


def environment_of(release: Path) -> Optional[str]:
    """The id of the environment the release runs in, None if it has none; ManifestError
    if the manifest is unusable."""
    return load_manifest(release).get("environment")


def copy_project(source: Path, dest: Path) -> None:
    """copytree without __pycache__ or a stray manifest (the copy gets its own), then make
    it durable. Symlinks are copied as links; OSErrors keep their errno."""
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
                fsync_path(Path(path))
        fsync_path(Path(directory))


