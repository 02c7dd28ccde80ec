"""Unit tests for executor.project_store: the last good project and roll-back."""
from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from executor.project_store import ProjectStore
from executor.release_manifest import MANIFEST_NAME, ProjectInfo
from executor.store_errors import StoreError
from tests.unit.conftest import (DEFAULT_FILES, LIMITS, assert_reseeded, expected_hash,
                                 make_zip, releases)


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
