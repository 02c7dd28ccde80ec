"""The README's Layout lists every module and folder of gateway/, executor/ and shared/, and
nothing that does not exist (entry points, __init__.py and caches aside); the cli/ entry
names each module of gateway/cli/."""
from __future__ import annotations

import re
from typing import Set

from tests.appliance import REPO

PACKAGES = ("gateway", "executor", "shared")
NOT_LISTED = {"__init__.py", "__main__.py", "__pycache__", "node_modules", "vendor"}


def layout_entries(readme: str) -> Set[str]:
    """``package/name`` for each entry of the Layout block (``name`` a file or ``folder/``)."""
    section = readme[readme.index("## Layout"):]
    block = section[section.index("```\n") + 4:]
    block = block[:block.index("```")]
    entries: Set[str] = set()
    package = None
    for line in block.splitlines():
        top = re.match(r"^(\w+)/\s", line)
        if top:
            package = top.group(1) if top.group(1) in PACKAGES else None
            continue
        entry = re.match(r"^  (\S+?)/?\s", line + " ")
        if package and entry and not line.startswith("   "):
            entries.add("%s/%s" % (package, entry.group(1)))
    return entries


def tree_entries() -> Set[str]:
    found: Set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).iterdir():
            if path.name in NOT_LISTED:
                continue
            if path.is_dir() or path.suffix == ".py":
                found.add("%s/%s" % (package, path.name))
    return found


def test_the_layout_lists_exactly_the_modules_that_exist() -> None:
    listed = layout_entries((REPO / "README.md").read_text(encoding="utf-8"))
    actual = tree_entries()
    assert listed == actual, ("README Layout: missing %s; not in the tree %s"
                              % (sorted(actual - listed), sorted(listed - actual)))


def test_the_cli_entry_names_every_module_of_the_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    entry = readme[readme.index("\n  cli/ "):readme.index("\n  console/ ")]
    modules = {path.name for path in (REPO / "gateway" / "cli").glob("*.py")} - NOT_LISTED
    unnamed = sorted(name for name in modules if name not in entry)
    assert not unnamed, "README Layout's cli/ entry does not name %s" % unnamed
