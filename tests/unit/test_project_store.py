"""Unit tests for executor.project_store: layout, installs, the swap, and start-up repairs.

The last good project and roll-back are in test_project_rollback.py; the shared fixtures
and helpers in conftest.py."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterator

import pytest

from executor.project_store import ProjectStore
from executor.release_manifest import MANIFEST_NAME, ProjectInfo
from executor.store_errors import StoreError
from executor.zip_archive import ArchiveError
from tests.tmpfs import mounted_tmpfs
from tests.unit.conftest import (DEFAULT_FILES, LIMITS, MiB, assert_reseeded, expected_hash,
                                 make_zip, releases, write_tree)

UPLOAD_FILES = {"main.py": b"print('uploaded')\n", "gait.py": b"STEPS = 4\n"}
RELEASE_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{12}-[0-9a-f]{4}$")


def tree(root: Path) -> Dict[str, bytes]:
    """Every regular file under root (manifest included), by relative path."""
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


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


# --- disk full ----------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, to get a real ENOSPC; skipped where mounting is impossible."""
    with mounted_tmpfs(tmp_path / "small", "size=1m") as mount_point:
        yield mount_point


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
