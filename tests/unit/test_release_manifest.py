"""Unit tests for executor.release_manifest: hashing, the manifest format, verification."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable, Dict

import pytest

from executor.release_manifest import (
    MANIFEST_NAME, ManifestError, ProjectInfo, build_manifest, copy_project, hash_files,
    load_manifest, project_hash, read_info, stat_files, verify_release, write_manifest)

FILES = {"main.py": b"print('hi')\n", "lib/gait.py": b"STEPS = 4\n"}


def write_tree(root: Path, files: Dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def digests(files: Dict[str, bytes]) -> Dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A release directory with FILES and a matching manifest."""
    root = tmp_path / "releases" / "r1"
    write_tree(root, FILES)
    write_manifest(root, build_manifest("upload", "walker", hash_files(root)))
    return root


def test_hash_files_skips_the_manifest_pycache_and_links(tmp_path: Path) -> None:
    write_tree(tmp_path, dict(FILES, **{MANIFEST_NAME: b"{}", "__pycache__/m.pyc": b"\0",
                                        "lib/__pycache__/g.pyc": b"\0"}))
    os.symlink("main.py", str(tmp_path / "link.py"))
    assert hash_files(tmp_path) == digests(FILES)


def test_project_hash_is_over_sorted_sha256sum_lines() -> None:
    lines = "".join(sorted("%s  %s\n" % (digest, name)
                           for name, digest in digests(FILES).items()))
    assert project_hash(digests(FILES)) == hashlib.sha256(lines.encode()).hexdigest()
    assert project_hash({}) == hashlib.sha256(b"").hexdigest()


def test_manifest_has_the_documented_fields(release: Path) -> None:
    manifest = json.loads((release / MANIFEST_NAME).read_text())
    assert manifest["origin"] == "upload" and manifest["name"] == "walker"
    assert manifest["files"] == digests(FILES)
    assert manifest["sha256"] == project_hash(digests(FILES))
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", manifest["installed_at"])
    assert not (release / (MANIFEST_NAME + ".tmp")).exists()
    assert load_manifest(release) == manifest


def test_read_info(release: Path) -> None:
    assert read_info(release) == ProjectInfo("walker", "upload", project_hash(digests(FILES)),
                                             release.resolve())


@pytest.mark.parametrize("content, error", [
    (None, "manifest of release r1 is missing"),
    ("{not json", "manifest of release r1 is unreadable"),
    ('["a list"]', "malformed"),
    ('{"origin": "upload"}', "malformed"),
    ('{"origin": "elsewhere", "name": "x", "sha256": "", "files": {}}', "malformed"),
    ('{"origin": "upload", "name": "x", "sha256": "", "files": {"a": 1}}', "malformed"),
    ('{"origin": "upload", "name": 3, "sha256": "", "files": {}}', "malformed"),
])
def test_unusable_manifests_are_manifest_errors(release: Path, content, error: str) -> None:
    manifest = release / MANIFEST_NAME
    manifest.unlink()
    if content is not None:
        manifest.write_text(content)
    with pytest.raises(ManifestError, match=error):
        load_manifest(release)
    with pytest.raises(ManifestError, match=error):
        read_info(release)
    assert error in str(verify_release(release))


def test_verify_accepts_files_the_program_wrote(release: Path) -> None:
    assert verify_release(release) is None
    write_tree(release, {"run.log": b"ok", "__pycache__/gait.pyc": b"\0"})
    assert verify_release(release) is None


def rewrite_manifest(release: Path, change: Callable[[dict], None]) -> None:
    manifest = load_manifest(release)
    change(manifest)
    (release / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, problem", [
    (lambda r: (r / "lib/gait.py").write_bytes(b"STEPS = 5\n"),
     "file 'lib/gait.py' of release r1 was modified"),
    (lambda r: (r / "main.py").unlink(), "file 'main.py' of release r1 is missing"),
    (lambda r: rewrite_manifest(r, lambda m: m.update(sha256="0" * 64)),
     "the manifest of release r1 is inconsistent"),
    (lambda r: rewrite_manifest(r, lambda m: m["files"].pop("main.py")),
     "the manifest of release r1 is inconsistent"),
])
def test_verify_reports_the_first_problem(release: Path, damage, problem: str) -> None:
    damage(release)
    assert verify_release(release) == problem


def test_copy_project_leaves_out_the_manifest_and_pycache(release: Path, tmp_path: Path) -> None:
    write_tree(release, {"__pycache__/main.pyc": b"\0"})
    os.symlink("main.py", str(release / "link.py"))
    dest = tmp_path / "copy"
    copy_project(release, dest)
    copied = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if not p.is_dir()}
    assert copied == set(FILES) | {"link.py"}
    assert os.readlink(str(dest / "link.py")) == "main.py"
    assert hash_files(dest) == digests(FILES)


@pytest.fixture
def stat_release(tmp_path: Path) -> Path:
    """A release whose manifest also records each file's size and mtime."""
    root = tmp_path / "releases" / "r2"
    write_tree(root, FILES)
    files = hash_files(root)
    write_manifest(root, build_manifest("upload", "walker", files, stat_files(root, files)))
    return root


def test_a_clean_start_trusts_size_and_mtime_without_hashing(stat_release: Path) -> None:
    # Same size and mtime, other bytes: only the hashes can tell, and a clean start skips them.
    path = stat_release / "lib/gait.py"
    info = path.stat()
    path.write_bytes(b"STEPS = 5\n")
    os.utime(str(path), ns=(info.st_atime_ns, info.st_mtime_ns))
    assert verify_release(stat_release, hashes=False) is None
    assert verify_release(stat_release) == "file 'lib/gait.py' of release r2 was modified"


@pytest.mark.parametrize("damage, problem", [
    (lambda r: (r / "lib/gait.py").write_bytes(b"STEPS = 50\n"),
     "file 'lib/gait.py' of release r2 was modified"),
    (lambda r: os.utime(str(r / "main.py"), ns=(0, 0)),
     "file 'main.py' of release r2 was modified"),
    (lambda r: (r / "main.py").unlink(), "file 'main.py' of release r2 is missing"),
])
def test_a_clean_start_sees_changed_sizes_and_mtimes(stat_release: Path, damage, problem) -> None:
    damage(stat_release)
    assert verify_release(stat_release, hashes=False) == problem


def test_a_manifest_without_stats_is_always_hashed(release: Path) -> None:
    path = release / "lib/gait.py"
    info = path.stat()
    path.write_bytes(b"STEPS = 5\n")
    os.utime(str(path), ns=(info.st_atime_ns, info.st_mtime_ns))
    assert verify_release(release, hashes=False) == "file 'lib/gait.py' of release r1 was modified"


def test_malformed_stats_make_the_manifest_malformed(stat_release: Path) -> None:
    rewrite_manifest(stat_release, lambda m: m["stats"].update({"main.py": ["1", 2]}))
    assert "malformed" in str(verify_release(stat_release, hashes=False))
