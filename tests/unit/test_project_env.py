"""Unit tests for project environments: the configuration keys, ids, pip's error line, the
cache's pruning and the store's current-env link. The real builds (venv + pip) are in
tests/integration/test_project_env*.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from executor import pip_install, project_env
from executor.project_env import EnvironmentCache
from executor.project_store import ProjectStore
from executor.release_manifest import build_manifest, environment_of, write_manifest
from executor.zip_archive import ArchiveLimits
from shared import config
from shared.config import ConfigError
from tests.wheels import project_zip, wheel

LIMITS = ArchiveLimits(10 * 1024 * 1024, 1000)


def test_requirements_mode_and_install_timeout_are_configured(tmp_path):
    loaded = config.load(None)
    assert loaded.executor.requirements == "offline"
    assert loaded.executor.install_timeout == 300.0
    path = tmp_path / "robotctl.yaml"
    path.write_text("executor:\n  requirements: online\n")
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert "executor.requirements: expected one of offline, index, check, got 'online'" \
        in str(caught.value)


def test_pip_error_line_is_its_last_error():
    run = pip_install.PipRun(1, [
        "Looking in links: wheels",
        "ERROR: Could not find a version that satisfies the requirement numpy==9.9 "
        "(from versions: none)",
        "ERROR: No matching distribution found for numpy==9.9"])
    assert run.error_line == "No matching distribution found for numpy==9.9"
    assert run.missing_requirement() == "numpy==9.9"
    assert pip_install.PipRun(2, ["Traceback", "OSError: boom"]).error_line == "OSError: boom"
    assert pip_install.PipRun(2, []).missing_requirement() is None


def test_offline_pip_sees_none_of_the_robots_pip_settings(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://mirror.invalid/simple")
    offline = pip_install.pip_environment(offline=True)
    assert "PIP_INDEX_URL" not in offline and offline["PIP_CONFIG_FILE"] == os.devnull
    assert pip_install.pip_environment(offline=False)["PIP_INDEX_URL"].startswith("http://")


def extract(tmp_path: Path, blob: bytes, name: str) -> Path:
    import zipfile
    import io
    folder = tmp_path / name
    zipfile.ZipFile(io.BytesIO(blob)).extractall(str(folder))
    return folder


def test_environment_id_follows_requirements_wheels_and_mode(tmp_path):
    cache = EnvironmentCache(tmp_path / "envs")
    v1 = extract(tmp_path, project_zip("robopkg==1.0\n", wheel("robopkg", "1.0")), "a")
    v1_new_code = extract(tmp_path, project_zip("robopkg==1.0\n", wheel("robopkg", "1.0"),
                                                main="x = 1\n"), "b")
    v2 = extract(tmp_path, project_zip("robopkg==1.0\n", wheel("robopkg", "2.0")), "c")
    first = project_env.environment_id(cache, v1, "offline")
    assert project_env.environment_id(cache, v1_new_code, "offline") == first
    assert project_env.environment_id(cache, v2, "offline") != first
    assert project_env.environment_id(cache, v1, "index") != first


def test_no_environment_without_requirements_or_in_check_mode(tmp_path):
    cache = EnvironmentCache(tmp_path / "envs")
    plain = extract(tmp_path, project_zip("# nothing\n\n", {}), "plain")
    with_reqs = extract(tmp_path, project_zip("robopkg\n", {}), "reqs")
    settings = project_env.Settings("offline", 60, 10 ** 9)
    assert project_env.build(cache, plain, settings) is None
    assert project_env.build(cache, with_reqs, project_env.Settings("check", 60, 10 ** 9)) is None
    assert not cache.root.exists()


def fake_environment(cache: EnvironmentCache, env_id: str, complete: bool = True) -> None:
    (cache.root / env_id / "bin").mkdir(parents=True)
    if complete:
        (cache.root / env_id / project_env.MARKER).write_text(
            '{"distributions": [{"name": "robopkg", "version": "1.0"}], "bytes": 100}')


def test_prune_keeps_named_and_pinned_environments_only(tmp_path):
    cache = EnvironmentCache(tmp_path / "envs")
    releases = tmp_path / "releases"
    (releases / "r1").mkdir(parents=True)
    write_manifest(releases / "r1", build_manifest("upload", "p", {}, environment="named"))
    for env_id in ("named", "pinned", "unused"):
        fake_environment(cache, env_id)
    fake_environment(cache, "half-built", complete=False)
    cache.pin("pinned")
    cache.prune(releases)
    assert sorted(p.name for p in cache.root.iterdir()) == ["named", "pinned"]
    assert cache.usage() == {"count": 2, "bytes": 200}
    assert cache.describe("named")["distributions"] == [{"name": "robopkg", "version": "1.0"}]
    assert cache.problem("half-built") is not None and cache.problem(None) is None


def test_store_links_current_env_and_refuses_a_release_whose_environment_is_gone(tmp_path):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "main.py").write_text("x = 1\n")
    store = ProjectStore(tmp_path / "projects", bundled)
    store.prepare()
    fake_environment(store.environments, "e1")
    blob = project_zip(None, {}, main="y = 2\n")
    info = store.install_upload(blob, LIMITS, "p", environment_for=lambda staged: "e1")
    assert environment_of(info.path) == "e1" and store.current_environment() == "e1"
    link = tmp_path / "projects" / "current-env"
    assert os.readlink(str(link)) == "envs/e1"
    assert store.environments.interpreter_for("e1").endswith("envs/e1/bin/python")
    assert store.environments.interpreter_for(None) == sys.executable
    # the environment vanishes: at the next start-up the release counts as broken
    (store.environments.root / "e1" / project_env.MARKER).unlink()
    assert store.prepare().origin == "default"
    assert not link.is_symlink()
