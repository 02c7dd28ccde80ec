"""robotctl-watch acts on changes under projects/default and on nothing else: reading the
files (its own hash reads all of them) must not wake it, or it re-hashes the tree forever."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from watchdog import events

from executor.default_watch import DefaultWatch, is_change, tree_hash
from shared import config

ROOT = "/var/lib/robotctl/projects/default"
PROJECTS = "/var/lib/robotctl/projects"


@pytest.mark.parametrize("event, change", [
    (events.FileModifiedEvent(ROOT + "/main.py"), True),
    (events.FileCreatedEvent(ROOT + "/lib/helpers.py"), True),
    (events.FileDeletedEvent(ROOT + "/old.py"), True),
    (events.DirCreatedEvent(ROOT), True),
    # A package upgrade moves a new default into place, or the old one away.
    (events.DirMovedEvent(PROJECTS + "/.default.new", ROOT), True),
    (events.DirMovedEvent(ROOT, PROJECTS + "/.default.old"), True),
    # Beside default, not in it; a bytecode cache.
    (events.FileModifiedEvent(PROJECTS + "/default-old/main.py"), False),
    (events.FileCreatedEvent(PROJECTS + "/current/main.py"), False),
    (events.FileCreatedEvent(ROOT + "/__pycache__/main.cpython-311.pyc"), False),
])
def test_what_counts_as_a_change(event, change):
    assert is_change(event, ROOT) is change


def test_reading_a_file_is_no_change():
    # Only watchdog's later releases report reads (bookworm's 2.2.1 reports none of them).
    reads = [getattr(events, name) for name in ("FileOpenedEvent", "FileClosedNoWriteEvent")
             if hasattr(events, name)]
    for read in reads:
        assert not is_change(read(ROOT + "/main.py"), ROOT)


def test_the_watch_is_woken_by_a_write_and_not_by_its_own_reads(tmp_path: Path):
    path = tmp_path / "robotctl.yaml"
    path.write_text(yaml.safe_dump({
        "executor": {"projects_dir": str(tmp_path / "projects")},
        "ipc": {"command_socket": "ipc://%s/cmd.ipc" % tmp_path,
                "callback_socket": "ipc://%s/cb.ipc" % tmp_path}}))
    default = tmp_path / "projects" / "default"
    default.mkdir(parents=True)
    (default / "main.py").write_text("x = 1\n")
    watch = DefaultWatch(config.load(str(path)))
    observer = watch.start_observer()
    try:
        tree_hash(default)                 # what the watch does after every change it acts on
        (default / "main.py").read_bytes()
        beside = tmp_path / "projects" / "default-old"
        beside.mkdir()
        (beside / "main.py").write_text("y = 2\n")
        (default / "new.py").write_text("z = 3\n")
        # inotify keeps the order: the reads and the write beside were reported first.
        assert watch.changes.get(timeout=30) == str(default / "new.py")
    finally:
        observer.stop()
        observer.join(10)
