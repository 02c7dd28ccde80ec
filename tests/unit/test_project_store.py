"""Unit tests for executor.project_store: layout, installs, the swap, and start-up repairs."""
from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

from executor.project_store import ProjectInfo, ProjectStore, StoreError
from executor.release_manifest import MANIFEST_NAME
from executor.zip_archive import ArchiveError, ArchiveLimits

MiB = 1024 * 1024
LIMITS = ArchiveLimits(max_total_size=10 * MiB, max_files=100)
DEFAULT_FILES = {"main.py": b"print('default')\n", "lib/helper.py": b"HELP = 1\n"}
UPLOAD_FILES = {"main.py": b"print('uploaded')\n", "gait.py": b"STEPS = 4\n"}
RELEASE_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{12}-[0-9a-f]{4}$")


def make_zip(files: Dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_tree(root: Path, files: Dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree(root: Path) -> Dict[str, bytes]:
    """Every regular file under root (manifest included), by relative path."""
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def expected_hash(files: Dict[str, bytes]) -> str:
    """The project hash exactly as the manifest format defines it, computed independently."""
    lines = sorted("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)
                   for name, data in files.items())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def releases(projects: Path) -> Dict[str, Path]:
    return {path.name: path for path in (projects / "releases").iterdir()}


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    root = tmp_path / "bundled"
    write_tree(root, DEFAULT_FILES)
    write_tree(root, {"__pycache__/main.cpython-311.pyc": b"stale"})
    return root


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    return tmp_path / "projects"


@pytest.fixture
def store(projects: Path, bundled: Path) -> ProjectStore:
    return ProjectStore(projects, bundled)


@pytest.fixture
def prepared(store: ProjectStore) -> ProjectStore:
    store.prepare()
    return store


def snapshot(store: ProjectStore) -> tuple:
    current = store.current_dir
    return os.readlink(str(current)), tree(current), sorted(releases(current.parent))


# --- first start and the layout -------------------------------------------------------------


def test_prepare_on_empty_dir_installs_default_and_seeds_current(
        store: ProjectStore, projects: Path) -> None:
    info = store.prepare()
    assert tree(projects / "default") == DEFAULT_FILES  # no __pycache__ copied
    target = os.readlink(str(projects / "current"))
    assert target.startswith("releases/") and RELEASE_ID.match(target.split("/")[1])
    assert info == ProjectInfo("default", "default", expected_hash(DEFAULT_FILES),
                               (projects / target).resolve())
    assert list((projects / "staging").iterdir()) == []
    assert store.previous_info() is None


def test_prepare_twice_changes_nothing(prepared: ProjectStore) -> None:
    before = snapshot(prepared)
    info = prepared.current_info()
    assert prepared.prepare() == info
    assert snapshot(prepared) == before


def test_missing_bundled_default_is_a_store_error(projects: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="bundled default project"):
        ProjectStore(projects, tmp_path / "nowhere").prepare()


def test_current_info_before_prepare_is_a_store_error(store: ProjectStore) -> None:
    with pytest.raises(StoreError, match="no current project"):
        store.current_info()


# --- uploads ------------------------------------------------------------------------------


def test_install_upload_flips_current_and_keeps_previous(prepared: ProjectStore) -> None:
    seeded = prepared.current_info()
    info = prepared.install_upload(make_zip({"walker/" + k: v for k, v in UPLOAD_FILES.items()}),
                                   LIMITS)
    assert (info.name, info.origin, info.sha256) == ("walker", "upload", expected_hash(UPLOAD_FILES))
    assert prepared.current_info() == info
    assert prepared.previous_info() == seeded
    current = tree(prepared.current_dir)
    assert current.pop(MANIFEST_NAME) and current == UPLOAD_FILES
    assert info.to_dict() == {"name": "walker", "origin": "upload",
                              "sha256": info.sha256, "path": str(info.path)}


def test_second_upload_prunes_the_release_before_previous(
        prepared: ProjectStore, projects: Path) -> None:
    seeded = prepared.current_info()
    first = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    second = prepared.install_upload(make_zip({"main.py": b"print(2)\n"}), LIMITS)
    assert prepared.previous_info() == first
    assert set(releases(projects)) == {first.path.name, second.path.name}
    assert not seeded.path.exists()


@pytest.mark.parametrize("upload, error", [
    (b"not a zip", "not a zip archive"),
    (make_zip({"app.py": b""}), "no main.py"),
    (make_zip({"main.py": b"", "../x": b""}), "escapes the project directory"),
    (make_zip({"main.py": bytes(11 * MiB)}), "exceeds the limit"),
])
def test_failed_upload_leaves_current_untouched(
        prepared: ProjectStore, projects: Path, upload: bytes, error: str) -> None:
    before = snapshot(prepared)
    with pytest.raises(ArchiveError, match=error):
        prepared.install_upload(upload, LIMITS)
    assert snapshot(prepared) == before
    assert list((projects / "staging").iterdir()) == []


def test_reseed_from_default(prepared: ProjectStore) -> None:
    upload = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    info = prepared.reseed_from_default()
    assert (info.origin, info.name, info.sha256) == ("default", "default",
                                                    expected_hash(DEFAULT_FILES))
    assert prepared.previous_info() == upload
    assert prepared.current_info() == info


# --- start-up repairs ---------------------------------------------------------------------


def assert_reseeded(store: ProjectStore, caplog: pytest.LogCaptureFixture, reason: str) -> None:
    with caplog.at_level(logging.WARNING, logger="executor.project_store"):
        info = store.prepare()
    assert info.origin == "default" and info.sha256 == expected_hash(DEFAULT_FILES)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("re-seeding" in text and reason in text for text in warnings), warnings


def test_leftovers_of_an_interrupted_swap_are_removed(
        prepared: ProjectStore, projects: Path) -> None:
    upload = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    os.symlink("releases/nowhere", str(projects / "current.new"))
    os.symlink(upload.path.name, str(projects / "previous.new"))
    os.symlink(upload.path.name, str(projects / "last_good.new"))
    write_tree(projects / "staging" / "upload-dead", {"main.py": b"half"})
    assert prepared.prepare() == upload
    assert not os.path.lexists(str(projects / "current.new"))
    assert not os.path.lexists(str(projects / "previous.new"))
    assert not os.path.lexists(str(projects / "last_good.new"))
    assert list((projects / "staging").iterdir()) == []


def test_power_cut_between_the_two_flips_keeps_the_old_project(
        prepared: ProjectStore, projects: Path) -> None:
    # The new release is complete and `previous` already names the old one, but `current`
    # was not flipped yet: the old project stays, the orphaned new release is pruned.
    old = prepared.current_info()
    new = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    os.replace(str(projects / "previous"), str(projects / "current"))
    assert prepared.prepare() == old
    assert prepared.previous_info() is None
    assert not new.path.exists()


def test_corrupt_manifest_is_reseeded(prepared: ProjectStore, caplog) -> None:
    prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    (prepared.current_dir / MANIFEST_NAME).write_text('{"origin": "upload"}')
    assert_reseeded(prepared, caplog, "malformed")


def test_dangling_current_is_reseeded(prepared: ProjectStore, caplog) -> None:
    os.replace(str(prepared.current_dir), str(prepared.current_dir) + ".x")
    os.symlink("releases/20000101T000000-000000000000-dead", str(prepared.current_dir))
    assert_reseeded(prepared, caplog, "not an installed release")


def test_current_linking_outside_releases_is_reseeded(prepared: ProjectStore, caplog,
                                                      tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_tree(elsewhere, UPLOAD_FILES)
    prepared.current_dir.unlink()
    os.symlink(str(elsewhere), str(prepared.current_dir))
    assert_reseeded(prepared, caplog, "not an installed release")
    assert tree(elsewhere) == UPLOAD_FILES


def test_missing_manifest_is_reseeded_and_broken_release_pruned(prepared: ProjectStore,
                                                                caplog) -> None:
    broken = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS).path
    (broken / MANIFEST_NAME).unlink()
    assert_reseeded(prepared, caplog, "manifest of release %s is missing" % broken.name)
    assert not broken.exists()


def test_tampered_file_is_reseeded(prepared: ProjectStore, caplog) -> None:
    prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    (prepared.current_dir / "gait.py").write_bytes(b"STEPS = 5\n")
    assert_reseeded(prepared, caplog, "file 'gait.py'")


def test_missing_listed_file_is_reseeded(prepared: ProjectStore, caplog) -> None:
    prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    (prepared.current_dir / "gait.py").unlink()
    assert_reseeded(prepared, caplog, "missing")


def test_files_the_program_wrote_are_tolerated(prepared: ProjectStore) -> None:
    upload = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    write_tree(prepared.current_dir, {"run.log": b"ok", "__pycache__/gait.pyc": b"\0"})
    assert prepared.prepare() == upload


def test_empty_current_dir_is_reseeded(store: ProjectStore, projects: Path, caplog) -> None:
    (projects / "current").mkdir(parents=True)
    assert_reseeded(store, caplog, "empty directory")
    assert (projects / "current").is_symlink()


def test_plain_current_dir_is_adopted(store: ProjectStore, projects: Path) -> None:
    write_tree(projects / "current", UPLOAD_FILES)
    info = store.prepare()
    assert (info.origin, info.name, info.sha256) == ("upload", "project",
                                                    expected_hash(UPLOAD_FILES))
    assert (projects / "current").is_symlink()
    adopted = tree(projects / "current")
    assert adopted.pop(MANIFEST_NAME) and adopted == UPLOAD_FILES


def test_power_cut_while_adopting_keeps_the_operators_project(
        store: ProjectStore, projects: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(projects / "current", UPLOAD_FILES)
    real_symlink = os.symlink

    def cut_power_before_flipping_current(target: str, link: str) -> None:
        if link.endswith("current.new"):
            raise KeyboardInterrupt("power cut")
        real_symlink(target, link)

    monkeypatch.setattr(os, "symlink", cut_power_before_flipping_current)
    with pytest.raises(KeyboardInterrupt):
        store.prepare()
    monkeypatch.undo()
    assert store.prepare().origin == "default"
    adopted = store.previous_info()
    assert adopted is not None and adopted.sha256 == expected_hash(UPLOAD_FILES)


def test_prepare_prunes_releases_other_than_current_and_previous(
        prepared: ProjectStore, projects: Path) -> None:
    first = prepared.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    second = prepared.install_upload(make_zip({"main.py": b"2"}), LIMITS)
    write_tree(projects / "releases" / "20000101T000000-aaaaaaaaaaaa-0000", UPLOAD_FILES)
    (projects / "releases" / "stray-file").write_bytes(b"")
    prepared.prepare()
    assert set(releases(projects)) == {first.path.name, second.path.name}


# --- the last good project and roll-back ----------------------------------------------------


def install(store: ProjectStore, main: bytes) -> ProjectInfo:
    return store.install_upload(make_zip({"main.py": main}), LIMITS)


def test_mark_good_points_last_good_at_current_once(prepared: ProjectStore,
                                                    projects: Path) -> None:
    assert prepared.last_good_info() is None
    upload = install(prepared, b"A")
    assert prepared.current_release_id() == upload.path.name
    assert prepared.mark_good() == upload == prepared.last_good_info()
    link = projects / "last_good"
    assert os.readlink(str(link)) == "releases/" + upload.path.name
    inode = os.lstat(str(link)).st_ino  # a flip would replace the link with a new one
    assert prepared.mark_good() == upload and os.lstat(str(link)).st_ino == inode


def test_mark_good_refuses_a_tampered_current(prepared: ProjectStore) -> None:
    good = prepared.mark_good()
    install(prepared, b"A")
    (prepared.current_dir / "main.py").write_bytes(b"B")
    with pytest.raises(StoreError, match="cannot mark the current project good: file 'main.py'"):
        prepared.mark_good()
    assert prepared.last_good_info() == good


@pytest.mark.parametrize("operation", ["mark_good", "current_release_id"])
def test_without_current_is_a_store_error(store: ProjectStore, operation: str) -> None:
    with pytest.raises(StoreError, match="no current project"):
        getattr(store, operation)()


def test_last_good_without_manifest_is_none(prepared: ProjectStore) -> None:
    good = prepared.mark_good()
    install(prepared, b"A")
    (good.path / MANIFEST_NAME).unlink()
    assert prepared.last_good_info() is None


def test_rollback_flips_to_last_good_and_keeps_the_abandoned_as_previous(
        prepared: ProjectStore) -> None:
    good = install(prepared, b"A")
    prepared.mark_good()
    bad = install(prepared, b"B")
    assert prepared.rollback() == good == prepared.current_info() == prepared.last_good_info()
    assert prepared.previous_info() == bad


@pytest.mark.parametrize("last_good, reason", [
    (None, "there is no last good project"),
    ("abandoned", "is the one being replaced"),
    ("tampered", "the last good project is unusable: file 'main.py' of release"),
])
def test_rollback_without_a_usable_last_good_reseeds(
        prepared: ProjectStore, caplog, last_good: str, reason: str) -> None:
    seeded = install(prepared, b"A")
    if last_good == "tampered":
        prepared.mark_good()
    bad = install(prepared, b"B")
    if last_good == "abandoned":
        prepared.mark_good()
    (seeded.path / "main.py").write_bytes(b"X")
    with caplog.at_level(logging.WARNING, logger="executor.project_store"):
        info = prepared.rollback()
    assert (info.origin, info.sha256) == ("default", expected_hash(DEFAULT_FILES))
    assert prepared.current_info() == info and prepared.previous_info() == bad
    assert "re-seeding" in caplog.text and reason in caplog.text


def test_a_failed_rollback_keeps_the_last_good_release(
        prepared: ProjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    good = install(prepared, b"A")
    prepared.mark_good()
    bad = install(prepared, b"B")
    real_symlink = os.symlink

    def fail_to_flip_current(target: str, link: str) -> None:
        if link.endswith("current.new"):
            raise OSError(errno.EIO, "Input/output error")
        real_symlink(target, link)

    monkeypatch.setattr(os, "symlink", fail_to_flip_current)
    with pytest.raises(StoreError, match="while rolling back the project"):
        prepared.rollback()
    monkeypatch.undo()
    assert prepared.current_info() == bad and prepared.last_good_info() == good
    assert prepared.rollback() == good


def test_pruning_keeps_the_last_good_release(prepared: ProjectStore, projects: Path) -> None:
    good = install(prepared, b"A")
    prepared.mark_good()
    later = [install(prepared, data) for data in (b"B", b"C", b"D")]
    prepared.prepare()
    assert set(releases(projects)) == {good.path.name, later[1].path.name, later[2].path.name}


@pytest.mark.parametrize("damage, reason", [
    (lambda current: (current / MANIFEST_NAME).unlink(), "manifest of release"),
    (lambda current: current.unlink(), "it is missing"),
])
def test_prepare_replaces_a_broken_current_with_the_last_good(
        prepared: ProjectStore, caplog, damage, reason: str) -> None:
    good = install(prepared, b"A")
    prepared.mark_good()
    broken = install(prepared, b"B")
    damage(prepared.current_dir)
    with caplog.at_level(logging.WARNING, logger="executor.project_store"):
        assert prepared.prepare() == good
    expected = "replacing the current project with the last good project %s" % good.path.name
    assert expected in caplog.text and reason in caplog.text
    assert not broken.path.exists()  # never offered back as `previous`


@pytest.mark.parametrize("marked, reason", [
    ("A", "the last good project is unusable: file 'main.py'"),
    ("B", "is the one being replaced"),
])
def test_prepare_reseeds_when_the_last_good_is_no_better(
        prepared: ProjectStore, caplog, marked: str, reason: str) -> None:
    good = install(prepared, b"A")
    if marked == "A":
        prepared.mark_good()
    install(prepared, b"B")
    if marked == "B":
        prepared.mark_good()
    (good.path / "main.py").write_bytes(b"X")
    (prepared.current_dir / "main.py").write_bytes(b"Y")
    assert_reseeded(prepared, caplog, reason)


# --- disk full ----------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, to get a real ENOSPC; skipped where mounting is impossible."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a 1 MiB tmpfs for a real ENOSPC")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % result.stdout.decode(errors="replace"))
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_disk_full_upload_is_a_store_error_and_current_survives(
        small_tmpfs: Path, bundled: Path) -> None:
    store = ProjectStore(small_tmpfs / "projects", bundled)
    store.prepare()
    store.install_upload(make_zip(UPLOAD_FILES), LIMITS)
    before = snapshot(store)
    with pytest.raises(StoreError) as caught:
        store.install_upload(make_zip({"main.py": b"", "big.bin": bytes(3 * MiB)}), LIMITS)
    assert str(caught.value) == ("disk full while installing the project: "
                                 "No space left on device")
    assert snapshot(store) == before
    assert list((small_tmpfs / "projects" / "staging").iterdir()) == []


def test_disk_full_while_seeding_is_a_store_error(small_tmpfs: Path, tmp_path: Path) -> None:
    # default/ plus its first release copy need twice 700 KiB: more than the 1 MiB tmpfs.
    bundled = tmp_path / "big-default"
    write_tree(bundled, {"main.py": b"", "model.bin": os.urandom(700 * 1024)})
    store = ProjectStore(small_tmpfs / "projects", bundled)
    with pytest.raises(StoreError, match="^disk full while preparing the project store: "):
        store.prepare()
    assert list((small_tmpfs / "projects" / "staging").iterdir()) == []
