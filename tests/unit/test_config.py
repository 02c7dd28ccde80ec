"""Unit tests for shared.config: defaults, validation messages, path resolution, precedence."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from shared import config
from shared.config import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "robotctl.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(str(write(tmp_path, text)))
    return str(caught.value)


def test_issue_keys_and_defaults():
    loaded = config.load(None)
    assert loaded.gateway.host == "0.0.0.0"
    assert loaded.gateway.port == 8000
    assert loaded.gateway.max_message_size == 104857600
    assert loaded.executor.projects_dir == "/var/lib/robotctl/projects"
    assert loaded.executor.max_execution_time == 300.0
    assert loaded.ipc.command_socket == "ipc:///run/robotctl/cmd.ipc"
    assert loaded.ipc.callback_socket == "ipc:///run/robotctl/callback.ipc"


def test_an_empty_file_means_all_defaults(tmp_path):
    assert config.load(str(write(tmp_path, ""))).as_dict() == config.load(None).as_dict()


def test_given_values_override_defaults_and_the_rest_stay(tmp_path):
    loaded = config.load(str(write(tmp_path, "gateway:\n  port: 9000\n")))
    assert loaded.gateway.port == 9000
    assert loaded.gateway.host == "0.0.0.0"
    assert loaded.executor.max_execution_time == 300.0


def test_the_shipped_file_is_valid_and_documents_every_key():
    shipped = REPO / "etc" / "robotctl.yaml"
    loaded = config.load(str(shipped))
    text = shipped.read_text()
    for section, keys in config.SCHEMA.items():
        for name in keys:
            assert re.search(r"^\s+(# )?%s: " % name, text, re.M), "%s.%s is not in %s" % (
                section, name, shipped)
            # Listed with its default, commented out: the defaults live in the code.
            listed = re.search(r"^\s+# %s: (.*?)(\s+#.*)?$" % name, text, re.M)
            if listed:
                assert yaml.safe_load(listed.group(1)) == config.SCHEMA[section][name].default
    # The one value the package sets: the token.
    assert loaded.gateway.auth_token_file == "/etc/robotctl/token"
    assert loaded.gateway.port == 8000
    assert loaded.executor.projects_dir == "/var/lib/robotctl/projects"
    assert loaded.ipc.command_socket == "ipc:///run/robotctl/cmd.ipc"


def test_the_dev_file_is_valid_and_keeps_state_inside_the_checkout():
    loaded = config.load(str(config.DEV_PATH))
    assert loaded.executor.projects_dir == str(REPO / ".run" / "projects")
    assert loaded.ipc.command_socket == "ipc://%s" % (REPO / ".run" / "cmd.ipc")


def test_unknown_section_is_named(tmp_path):
    message = error_of(tmp_path, "gatway:\n  port: 1\n")
    assert "gatway" in message and "unknown section" in message
    assert str(tmp_path / "robotctl.yaml") in message


def test_unknown_key_is_named_with_its_section(tmp_path):
    message = error_of(tmp_path, "executor:\n  max_exec_time: 5\n")
    assert "executor.max_exec_time" in message and "unknown key" in message


@pytest.mark.parametrize("text, key, expected", [
    ("gateway:\n  port: '8000'\n", "gateway.port", "integer"),
    ("gateway:\n  port: true\n", "gateway.port", "integer"),
    ("gateway:\n  port: 80.5\n", "gateway.port", "integer"),
    ("gateway:\n  host: 127\n", "gateway.host", "string"),
    ("executor:\n  max_execution_time: soon\n", "executor.max_execution_time", "number"),
    ("executor:\n  max_execution_time: -1\n", "executor.max_execution_time", "negative"),
    ("executor:\n  projects_dir: null\n", "executor.projects_dir", "required"),
    ("ipc:\n  command_socket: tcp://127.0.0.1:5555\n", "ipc.command_socket", "ipc://"),
    ("gateway:\n  cors_allowed_origins: 5\n", "gateway.cors_allowed_origins", "list"),
    ("gateway:\n  allowed_hosts: robot\n", "gateway.allowed_hosts", "list"),
])
def test_wrong_types_are_named(tmp_path, text, key, expected):
    message = error_of(tmp_path, text)
    assert key in message and expected in message, message


@pytest.mark.parametrize("text, expected", [
    ("- gateway\n", "mapping"),
    ("gateway: 5\n", "gateway"),
    ("gateway: [\n", "YAML"),
])
def test_malformed_files_are_refused(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config.load(str(tmp_path / "nope.yaml"))
    assert "nope.yaml" in str(caught.value) and "cannot read" in str(caught.value)


def test_integers_are_accepted_where_numbers_are_expected(tmp_path):
    loaded = config.load(str(write(tmp_path, "executor:\n  max_execution_time: 2\n")))
    assert loaded.executor.max_execution_time == 2.0
    assert isinstance(loaded.executor.max_execution_time, float)


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, "executor:\n  projects_dir: ../state/projects\n"
                         "gateway:\n  auth_token_file: token\n"
                         "ipc:\n  command_socket: ipc://../run/cmd.ipc\n"
                         "  callback_socket: ipc://cb.ipc\n")
    monkeypatch.chdir("/")     # the working directory plays no part
    loaded = config.load(str(path))
    assert loaded.executor.projects_dir == str((tmp_path / "state" / "projects").resolve())
    assert loaded.gateway.auth_token_file == str((folder / "token").resolve())
    assert loaded.ipc.command_socket == "ipc://" + str((tmp_path / "run" / "cmd.ipc").resolve())
    assert loaded.ipc.callback_socket == "ipc://" + str((folder / "cb.ipc").resolve())


def test_absolute_paths_are_kept(tmp_path):
    path = write(tmp_path, "executor:\n  projects_dir: /srv/projects\n"
                           "ipc:\n  command_socket: ipc:///tmp/x/cmd.ipc\n")
    loaded = config.load(str(path))
    assert loaded.executor.projects_dir == "/srv/projects"
    assert loaded.ipc.command_socket == "ipc:///tmp/x/cmd.ipc"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_precedence_config_beats_dev_beats_environment_beats_system(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "/from/env.yaml")
    assert config.path_from_args(parse("--config", "/given.yaml", "--dev")) == "/given.yaml"
    assert config.path_from_args(parse("--dev")) == str(config.DEV_PATH)
    assert config.path_from_args(parse()) == "/from/env.yaml"
    monkeypatch.delenv(config.ENV_VAR)
    assert config.path_from_args(parse()) == config.DEFAULT_PATH == "/etc/robotctl/robotctl.yaml"


def test_an_empty_environment_variable_falls_back_to_the_system_path(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "")
    assert config.path_from_args(parse()) == config.DEFAULT_PATH


def test_stream_budget_keys_and_the_deprecated_queue_size(tmp_path, caplog):
    loaded = config.load(None)
    assert loaded.gateway.client_buffer_bytes == 4 * 1024 * 1024
    assert loaded.gateway.stall_timeout == 30.0
    # the old count-bounded key still loads (an edited file keeps working), ignored and logged
    with caplog.at_level("WARNING"):
        loaded = config.load(str(write(tmp_path, "gateway:\n  push_queue_size: 1000\n")))
    assert not hasattr(loaded.gateway, "push_queue_size")
    assert "gateway.push_queue_size is deprecated and ignored" in caplog.text
    assert "gateway.client_buffer_bytes" in caplog.text


def test_the_event_buffer_is_16_mib_and_at_least_1_mib(tmp_path):
    assert config.load(None).executor.event_buffer_bytes == 16 * 1024 * 1024
    assert error_of(tmp_path, "executor: {event_buffer_bytes: 1000}") == (
        "%s: executor.event_buffer_bytes: must be at least 1048576, got 1000"
        % (tmp_path / "robotctl.yaml"))
