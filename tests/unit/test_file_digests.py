"""Unit tests for executor.file_digests: the same digests in-process and in the child."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from executor import file_digests


@pytest.fixture
def files(tmp_path: Path):
    contents = [b"", b"x" * 10, os.urandom(3 * 1024 * 1024 + 7)]
    paths = []
    for i, data in enumerate(contents):
        path = tmp_path / ("f%d" % i)
        path.write_bytes(data)
        paths.append(str(path))
    return paths, [hashlib.sha256(data).hexdigest() for data in contents]


def test_small_sets_are_hashed_in_process(files, monkeypatch) -> None:
    paths, expected = files
    monkeypatch.setattr(file_digests, "_in_child", lambda paths: pytest.fail("spawned a child"))
    assert file_digests.sha256_files(paths, 100) == expected


def test_large_sets_are_hashed_by_a_child_with_the_same_digests(files, monkeypatch) -> None:
    paths, expected = files
    monkeypatch.setattr(file_digests, "_in_process", lambda path: pytest.fail("hashed in-process"))
    assert file_digests.sha256_files(paths, file_digests.CHILD_ABOVE + 1) == expected


def test_a_failing_child_falls_back_to_the_in_process_hash(files, monkeypatch) -> None:
    paths, expected = files
    monkeypatch.setattr(file_digests, "_CHILD", "raise SystemExit(3)")
    assert file_digests.sha256_files(paths, file_digests.CHILD_ABOVE + 1) == expected


def test_an_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_digests.sha256_files([str(tmp_path / "gone")], file_digests.CHILD_ABOVE + 1)
