"""shared.exit_record owns the exit records; executor.restart_history turns them into the
restart reason. Both ends, through the real files in a private run dir."""
from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from executor.restart_history import RestartHistory
from shared import exit_record, fsutil


def test_the_stop_record_round_trip(tmp_path: Path) -> None:
    run_dir = str(tmp_path)
    exit_record.write(run_dir, "executor", exit_record.from_wait_status(-signal.SIGKILL))
    record = Path(exit_record.path(run_dir, "executor"))
    assert record.name == exit_record.STOP_RECORD
    assert stat.S_IMODE(record.stat().st_mode) == 0o640
    assert os.listdir(run_dir) == [exit_record.STOP_RECORD]     # no temporary file left
    stop = exit_record.read(run_dir, "executor")
    assert stop is not None
    assert {k: stop[k] for k in exit_record.FIELDS} == {
        "SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}
    assert exit_record.abnormal(stop)
    assert exit_record.describe(stop) == "killed by signal KILL"
    assert exit_record.read(run_dir, "nothing") is None
    assert exit_record.describe_wait_status(-signal.SIGKILL) == "signal SIGKILL"
    assert exit_record.describe_wait_status(3) == "status 3"


@pytest.mark.parametrize("status, result, reason, detail", [
    (0, None, "manual", ""),
    (1, None, "crash", "exited with status 1"),
    (-signal.SIGSEGV, None, "crash", "killed by signal SEGV"),
    (-signal.SIGKILL, "watchdog", "watchdog", "the systemd watchdog killed the executor "
                                              "(its main loop stopped answering)"),
])
def test_the_restart_reason_comes_from_the_stop_record(tmp_path: Path, status: int,
                                                       result: str, reason: str,
                                                       detail: str) -> None:
    exit_record.write(str(tmp_path), "executor", exit_record.from_wait_status(status, result))
    last = RestartHistory(tmp_path).classify()
    assert (last["reason"], last["detail"]) == (reason, detail)
    assert os.listdir(str(tmp_path)) == []          # consumed


def test_a_clean_exit_gives_its_own_reason_and_clear_makes_a_boot(tmp_path: Path) -> None:
    history = RestartHistory(tmp_path)
    history.record_exit("update", "new project")
    exit_record.write(str(tmp_path), "executor", exit_record.from_wait_status(0))
    last = history.classify()
    assert (last["reason"], last["detail"]) == ("update", "new project")
    history.record_exit("reload")
    history.record_crash("r1", 60.0)
    history.mark_loading("r1")
    assert sorted(os.listdir(str(tmp_path))) == sorted(
        [exit_record.OWN_RECORD, exit_record.CRASHES, exit_record.LOADED])
    exit_record.clear(str(tmp_path))
    assert os.listdir(str(tmp_path)) == []
    assert history.classify()["reason"] == "boot"


def test_write_atomically_replaces_whole_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    fsutil.write_atomically(target, "one", durable=True)
    fsutil.write_atomically(target, "two", mode=0o600)
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(TypeError):
        fsutil.write_atomically(target, b"not text")   # type: ignore[arg-type]
    assert target.read_text() == "two"
    assert os.listdir(str(tmp_path)) == ["record.json"]


def test_remove_path_takes_files_links_and_trees_and_tolerates_absence(tmp_path: Path) -> None:
    tree = tmp_path / "tree" / "deep"
    tree.mkdir(parents=True)
    (tree / "f").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "tree")
    fsutil.remove_path(link)
    assert (tree / "f").exists()        # a link to a tree removes the link only
    fsutil.remove_path(tmp_path / "tree")
    fsutil.remove_path(tmp_path / "missing")
    fsutil.remove_quietly(tmp_path / "missing")
    assert os.listdir(str(tmp_path)) == []
