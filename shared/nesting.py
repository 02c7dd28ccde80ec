"""The bound on how deeply a JSON value may nest, on every path (documented in the README).

Deeper values cost stack in every JSON encoder and decoder they pass (Python's raise
RecursionError near 1000 levels, less inside a handler): a bound far below that, checked
at the edges, means no encoder or decoder on the way can fail.
"""
from __future__ import annotations

from typing import Any, List, Tuple, Union

MAX_DEPTH = 64
_CONTAINERS = (dict, list, tuple)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Does ``value`` nest containers more than ``limit`` levels (``[]`` is one level)?

    Iterative: a value too deep for recursion is measured like any other."""
    stack: List[Tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, _CONTAINERS):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def shallow_json(text: Union[str, bytes], limit: int = MAX_DEPTH) -> bool:
    """True when JSON ``text`` cannot nest containers more than ``limit`` levels: it opens
    at most ``limit`` brackets in all. Brackets inside strings count too, so False only
    means "ask ``too_deep``": a bytes count is ~0.5 µs where ``too_deep`` walks the whole
    value in Python (~10 µs for a robot's state of a few dozen fields)."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{") <= limit
    return text.count("[") + text.count("{") <= limit


def describe() -> str:
    return "it is nested deeper than %d levels" % MAX_DEPTH
