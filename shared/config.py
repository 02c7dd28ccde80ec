"""Loading and validating ``robotctl.yaml``.

Every key has one definition in ``SCHEMA`` (type, default, meaning). Unknown keys and values
of the wrong type stop the process at start-up with a message that names the key.
Relative paths (and relative ``ipc://`` paths) are resolved against the config file's folder.
"""
from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Optional, Tuple

import yaml

log = logging.getLogger(__name__)

ENV_VAR = "ROBOTCTL_CONFIG"
DEFAULT_PATH = "/etc/robotctl/robotctl.yaml"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_PATH = REPO_ROOT / "etc" / "robotctl.dev.yaml"


@dataclass(frozen=True)
class Key:
    kind: str          # "int", "str", "path", "ipc", "bool", "float", "list", "origins"
    default: Any
    nullable: bool = False
    choices: Tuple[str, ...] = ()
    minimum: Optional[float] = None     # numbers: the least value that works


SCHEMA: Dict[str, Dict[str, Key]] = {
    "gateway": {
        "host": Key("str", "0.0.0.0"),
        "port": Key("int", 8000),
        "max_message_size": Key("int", 104857600),
        "auth_token_file": Key("path", None, nullable=True),
        "cors_allowed_origins": Key("origins", None, nullable=True),
        "allowed_hosts": Key("list", []),
        "ping_interval": Key("float", 4.0),
        "ping_timeout": Key("float", 6.0),
        "executor_start_timeout": Key("float", 30.0),
        "client_buffer_bytes": Key("int", 4194304),
        "stall_timeout": Key("float", 30.0),
        "tls_cert_file": Key("path", None, nullable=True),
        "tls_key_file": Key("path", None, nullable=True),
        "lockout_failures": Key("int", 10),
        "lockout_seconds": Key("float", 60.0),
    },
    "executor": {
        "projects_dir": Key("path", "/var/lib/robotctl/projects"),
        "max_execution_time": Key("float", 300.0),
        "max_project_size": Key("int", 524288000),
        "max_project_files": Key("int", 10000),
        "stop_hook_timeout": Key("float", 5.0),
        "max_calls_in_flight": Key("int", 64),
        # Bytes sent to the gateway and not yet read by it (executor/send_credit.py); a push
        # larger than this is always dropped, so at least 1 MiB.
        "event_buffer_bytes": Key("int", 16777216, minimum=1048576),
        "crash_limit": Key("int", 3),
        "crash_window": Key("float", 60.0),
        "good_after": Key("float", 30.0),
        "requirements": Key("str", "offline", choices=("offline", "index", "check")),
        "install_timeout": Key("float", 300.0),
    },
    "ipc": {
        "command_socket": Key("ipc", "ipc:///run/robotctl/cmd.ipc"),
        "callback_socket": Key("ipc", "ipc:///run/robotctl/callback.ipc"),
    },
}

# Keys still accepted (so an edited configuration file keeps working after an upgrade) but
# ignored; each is logged at start-up with what replaced it.
DEPRECATED: Dict[str, Dict[str, str]] = {
    "gateway": {"push_queue_size": "gateway.client_buffer_bytes (a budget in bytes, not events)"},
}


class ConfigError(Exception):
    """The configuration cannot be used; str(e) names the file and the key."""


class Config:
    """Validated configuration: ``config.gateway.port``, ``config.ipc.command_socket``, …"""

    # One namespace per SCHEMA section, set in __init__; their values are typed by SCHEMA at
    # run time, so they are Any to mypy.
    gateway: argparse.Namespace
    executor: argparse.Namespace
    ipc: argparse.Namespace

    def __init__(self, sections: Dict[str, Dict[str, Any]], path: Optional[Path],
                 given: FrozenSet[str] = frozenset()):
        self.path = path
        self.given = given      # "section.key" names set in the file; the rest are defaults
        self._sections = sections
        for name, values in sections.items():
            setattr(self, name, argparse.Namespace(**values))

    def as_dict(self) -> Dict[str, Dict[str, Any]]:
        return {name: dict(values) for name, values in self._sections.items()}

    def sources(self) -> Dict[str, Tuple[Any, str]]:
        """``{"gateway.port": (8000, "default"), ...}``: each value and where it comes from."""
        return {"%s.%s" % (section, name): (value, "file" if "%s.%s" % (section, name)
                                             in self.given else "default")
                for section, values in self._sections.items() for name, value in values.items()}


def _check_type(where: str, key: Key, value: Any) -> Any:
    if value is None:
        if key.nullable:
            return None
        raise ConfigError("%s: a value is required" % where)
    if key.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError("%s: expected an integer, got %r" % (where, value))
    if key.kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError("%s: expected a number, got %r" % (where, value))
    if key.kind in ("str", "path", "ipc") and not isinstance(value, str):
        raise ConfigError("%s: expected a string, got %r" % (where, value))
    if key.kind == "origins" and isinstance(value, str):
        value = [value]     # one origin, or "*"
    if key.kind in ("list", "origins") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ConfigError("%s: expected a list of strings, got %r" % (where, value))
    if key.kind == "ipc" and not value.startswith("ipc://"):
        raise ConfigError("%s: expected an ipc:// address, got %r" % (where, value))
    if key.choices and value not in key.choices:
        raise ConfigError("%s: expected one of %s, got %r" % (where, ", ".join(key.choices), value))
    if key.kind in ("int", "float") and value < 0:
        raise ConfigError("%s: must not be negative, got %r" % (where, value))
    if key.minimum is not None and value < key.minimum:
        raise ConfigError("%s: must be at least %r, got %r" % (where, key.minimum, value))
    return float(value) if key.kind == "float" else value


def _resolve(key: Key, value: Any, base: Path) -> Any:
    if value is None:
        return None
    if key.kind == "path":
        return str((base / value).resolve()) if not os.path.isabs(value) else value
    if key.kind == "ipc":
        path = value[len("ipc://"):]
        return value if os.path.isabs(path) else "ipc://" + str((base / path).resolve())
    return value


def validate(raw: Any, base: Path) -> Dict[str, Dict[str, Any]]:
    """Merge ``raw`` (parsed YAML) over the defaults; raise ConfigError on any problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping of sections")
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise ConfigError("unknown section %r (known: %s)" % (unknown[0], ", ".join(SCHEMA)))
    sections = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError("%s: expected a mapping" % section)
        for name in given:
            if name in DEPRECATED.get(section, {}):
                log.warning("%s.%s is deprecated and ignored: see %s", section, name,
                            DEPRECATED[section][name])
            elif name not in keys:
                raise ConfigError("%s.%s: unknown key" % (section, name))
        values = {}
        for name, key in keys.items():
            value = _check_type("%s.%s" % (section, name), key, given.get(name, key.default))
            values[name] = _resolve(key, value, base)
        sections[section] = values
    return sections


def load(path: Optional[str]) -> Config:
    """Read and validate the file at ``path``."""
    if path is None:
        return Config(validate({}, Path.cwd()), None)
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError("%s: cannot read: %s" % (file, e.strerror)) from None
    except yaml.YAMLError as e:
        raise ConfigError("%s: not valid YAML: %s" % (file, e)) from None
    try:
        sections = validate(raw, file.resolve().parent)
    except ConfigError as e:
        raise ConfigError("%s: %s" % (file, e)) from None
    given = frozenset("%s.%s" % (section, name) for section, keys in (raw or {}).items()
                      for name in (keys or {}))
    return Config(sections, file, given)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (default: $%s, else %s)" % (ENV_VAR, DEFAULT_PATH))
    parser.add_argument("--dev", action="store_true",
                        help="use the development configuration %s" % DEV_PATH.relative_to(REPO_ROOT))


def path_from_args(args: argparse.Namespace) -> str:
    """--config beats --dev beats $ROBOTCTL_CONFIG beats the system path."""
    if args.config:
        return str(args.config)
    if args.dev:
        return str(DEV_PATH)
    return os.environ.get(ENV_VAR) or DEFAULT_PATH

