"""Shared by the project store tests (test_project_store.py, test_project_rollback.py):
the archive limits, the bundled default project, helpers, and a store in a private dir.
And the leadership timer's signal, blocked in every thread of the test process."""
from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path
from typing import Dict

import pytest

from executor.leadership import block_timer_signal
from executor.project_store import ProjectStore
from executor.zip_archive import ArchiveLimits

# As the executor does before its first thread starts (executor.leadership): the timer's
# SIGALRM goes to the process, so any thread that does not block it may take it, and the
# sigwait of test_leadership's main thread never sees it (no takeover: a slow call keeps the
# loop). Threads inherit the mask, and threads that earlier tests leave behind (idle
# WorkerPool workers) were started outside the test's fixture: so block it here, first.
block_timer_signal()

MiB = 1024 * 1024
LIMITS = ArchiveLimits(max_total_size=10 * MiB, max_files=100)
DEFAULT_FILES = {"main.py": b"print('default')\n", "lib/helper.py": b"HELP = 1\n"}


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


def assert_reseeded(store: ProjectStore, caplog: pytest.LogCaptureFixture, reason: str) -> None:
    with caplog.at_level(logging.WARNING, logger="executor.project_store"):
        info = store.prepare()
    assert info.origin == "default" and info.sha256 == expected_hash(DEFAULT_FILES)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("re-seeding" in text and reason in text for text in warnings), warnings
