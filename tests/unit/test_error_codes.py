"""The error codes: each defined once in shared/error_codes.py, each produced somewhere, and
the README's "Error codes" lists exactly them; the console switches only on real codes."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, Set

from shared import error_codes

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("gateway", "executor", "shared")
CONSTANTS = {name: value for name, value in vars(error_codes).items()
             if name.isupper() and isinstance(value, str)}


def python_files() -> Iterator[Path]:
    for package in SOURCES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "default_project" not in path.parts:
                yield path


def codes_referenced() -> Set[str]:
    """The names of ``error_codes.NAME`` used in the code (outside error_codes itself)."""
    names: Set[str] = set()
    for path in python_files():
        if path.name == "error_codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "error_codes"):
                names.add(node.attr)
    return names


def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("### Error codes")
    return text[start:text.index("\n#", start + 1)]


def test_every_code_is_defined_once_and_listed():
    assert len(set(CONSTANTS.values())) == len(CONSTANTS), CONSTANTS
    assert error_codes.ALL_CODES == set(CONSTANTS.values())
    assert error_codes.IPC_ONLY <= error_codes.REPLY_CODES


def test_every_code_the_code_names_exists_and_every_code_is_produced():
    referenced = codes_referenced()
    unknown = referenced - set(CONSTANTS) - {"REPLY_CODES", "ALL_CODES", "CONNECT_CODES", "IPC_ONLY"}
    assert not unknown, "error_codes has no %s" % sorted(unknown)
    produced = {CONSTANTS[name] for name in referenced if name in CONSTANTS}
    assert produced == error_codes.ALL_CODES, (
        "defined but never sent: %s" % sorted(error_codes.ALL_CODES - produced))


def test_no_error_reply_is_built_with_a_literal_code():
    """Codes are named through error_codes, so this test sees every one of them."""
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                assert not isinstance(node.value, ast.Constant), (
                    "%s:%d: a literal code" % (path, node.value.lineno))


def test_the_readme_lists_exactly_the_defined_codes():
    section = readme_section()
    table = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert table == error_codes.REPLY_CODES - error_codes.IPC_ONLY, (
        "README table vs shared/error_codes.py: missing %s, extra %s"
        % (sorted(error_codes.REPLY_CODES - error_codes.IPC_ONLY - table),
           sorted(table - error_codes.REPLY_CODES)))
    after_table = section[section.rindex("\n|"):]
    named = set(re.findall(r"`([a-z_]+)`", after_table))
    assert error_codes.IPC_ONLY | error_codes.CONNECT_CODES <= named, sorted(
        (error_codes.IPC_ONLY | error_codes.CONNECT_CODES) - named)


def test_the_console_switches_only_on_defined_codes():
    console = REPO / "gateway" / "console"
    hints = (console / "console.js").read_text()
    hints = hints[hints.index("const ERROR_HINTS = {"):]
    hints = hints[:hints.index("};")]
    used = set(re.findall(r"^\s+([a-z_]+):", hints, re.MULTILINE))
    for name in ("console.js", "project.js", "upload.js"):
        used |= set(re.findall(r"(?<![.\w])code === '([a-z_]+)'", (console / name).read_text()))
    assert used and used <= error_codes.ALL_CODES, sorted(used - error_codes.ALL_CODES)
