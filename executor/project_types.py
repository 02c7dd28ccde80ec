"""The registry of project types. A type is a class with ``kind``, ``marker`` (the file that
identifies it), and load / resolve / stop_hooks / describe / missing_requirements; adding a
type is one module and one entry in TYPES (README "Adding a project type")."""
from __future__ import annotations

from pathlib import Path
from typing import List, Type

from executor.python_runtime import PythonProject, PushFunction

TYPES: List[Type[PythonProject]] = [PythonProject]


class UnknownProjectType(Exception):
    pass


def open_project(path: Path, push: PushFunction) -> PythonProject:
    """The project at ``path``, as an instance of the first type whose marker file it has."""
    for project_type in TYPES:
        if (path / project_type.marker).is_file():
            return project_type(path, push)
    markers = ", ".join(t.marker for t in TYPES)
    raise UnknownProjectType("%s holds no known project type (looked for %s)" % (path, markers))
