"""Checking a project's ``requirements.txt`` against what is installed (nothing is installed)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
    metadata = None  # type: ignore[assignment]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def missing(path: Path) -> List[str]:
    """Requirement lines of ``path`` whose distribution is not installed, as written."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    absent = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = _NAME.match(line)
        if not line or line.startswith("-") or not match:
            continue
        try:
            metadata.distribution(match.group(1))
        except metadata.PackageNotFoundError:
            absent.append(line)
    return absent
