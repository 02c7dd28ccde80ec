"""The project's modules import each other without a cycle.

Every import statement in shared/, gateway/ and executor/ counts: module-level, function-level
and ``if TYPE_CHECKING:`` ones (a type checker follows those too), with relative imports
resolved. ``from pkg import name`` is an edge to ``pkg.name`` when that is one of our modules,
else to ``pkg``. A cycle fails the test and is named module by module.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

from tests.appliance import REPO

PACKAGES = ("shared", "gateway", "executor")


def module_files(root: Path) -> Dict[str, Path]:
    """Dotted module name -> source file, for every .py file in our packages."""
    found: Dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "node_modules" in parts or "default_project" in parts:
                continue     # not our modules: vendored JS, the bundled user project
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> Optional[str]:
    """The absolute module a ``from ... import`` names (relative ones resolved)."""
    if node.level == 0:
        return node.module
    anchor = module.split(".")
    if not is_package:
        anchor.pop()
    for _ in range(node.level - 1):
        anchor.pop()
    return ".".join(anchor + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: Set[str]) -> Set[str]:
    """The project modules that ``module`` imports, anywhere in its source."""
    edges: Set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            if base is None:
                continue
            for alias in node.names:
                target = "%s.%s" % (base, alias.name)
                if target in known:
                    edges.add(target)
                elif base in known:
                    edges.add(base)
    edges.discard(module)
    return edges


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as [a, b, ..., a], or None (iterative DFS, three colours)."""
    state: Dict[str, int] = {}     # absent: unvisited, 1: on the stack, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def import_graph(root: Path) -> Dict[str, Set[str]]:
    files = module_files(root)
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def test_the_project_has_no_import_cycle() -> None:
    graph = import_graph(REPO)
    assert len(graph) > 50, "the walk found too few modules: %s" % sorted(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_walk_sees_function_level_relative_and_type_checking_imports(tmp_path: Path) -> None:
    """The checker itself: a cycle hidden in a function, a relative import and a
    TYPE_CHECKING block is still found and named."""
    pkg = tmp_path / "executor"
    pkg.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "gateway").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from executor.c import Thing\n")
    (pkg / "c.py").write_text("import executor.a\n")
    graph = import_graph(tmp_path)
    assert graph["executor.a"] == {"executor.b"}
    assert find_cycle(graph) == ["executor.a", "executor.b", "executor.c", "executor.a"]
    (pkg / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(tmp_path)) is None
