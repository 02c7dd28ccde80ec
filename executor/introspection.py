"""``describe``: the project's module-level objects and their public methods.

Everything is read with ``inspect.getattr_static`` and from classes, so describing runs no
user code beyond what loading the project already ran (no properties, no ``__getattr__``).
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

_MISSING = object()


def describe_module(module: ModuleType, project_dir: Path) -> Dict[str, Any]:
    """``{objects: [{name, type, doc, methods}], functions: [...]}`` of a loaded module."""
    objects, functions = project_members(module, project_dir)
    return {"objects": [describe_object(name, value) for name, value in objects.items()],
            "functions": [describe_callable(name, value, bound=False)
                          for name, value in functions.items()]}


def project_members(module: ModuleType, project_dir: Path) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The module-level objects and functions a client may see and call, by name.

    Only what the project defines counts: instances of classes defined in its own files and
    functions defined there; not names starting with ``_``, modules, classes, or anything
    from outside the project (``os``, ``threading``, ``Optional``, …).
    """
    objects, functions = {}, {}
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or inspect.ismodule(value) or inspect.isclass(value):
            continue
        if inspect.isfunction(value):
            if _defined_in(value.__module__, project_dir):
                functions[name] = value
        elif _defined_in(type(value).__module__, project_dir):
            objects[name] = value
    return objects, functions


def find_callable(module: ModuleType, project_dir: Path, obj: Optional[str],
                  method: str) -> Optional[Callable[..., Any]]:
    """What ``project_members`` and ``public_methods`` would offer as ``obj.method`` (or the
    function ``method``), or None: the same rules applied to the one name asked for, so a
    call does not list the whole project first (that cost ~100 µs per call)."""
    name = method if obj is None else obj
    value = vars(module).get(name, _MISSING)
    if (value is _MISSING or name.startswith("_") or inspect.ismodule(value)
            or inspect.isclass(value)):
        return None
    if inspect.isfunction(value):
        return value if obj is None and _defined_in(value.__module__, project_dir) else None
    if obj is None or method.startswith("_") or not _defined_in(type(value).__module__, project_dir):
        return None
    if plain_function(inspect.getattr_static(value, method, None)) is None:
        return None
    return getattr(value, method) if _class_defines(type(value), method) else None


# The class's own __mro__ and __dict__, read as getattr_static does: a metaclass that
# overrides them (or __dir__, which ``dir(cls)`` would call) runs no code here.
_static_mro = type.__dict__["__mro__"].__get__
_static_dict = type.__dict__["__dict__"].__get__


def _class_defines(cls: type, name: str) -> bool:
    """Whether ``name`` is an attribute of ``cls`` or of a base class (what ``dir(cls)``
    lists, without building and sorting the whole list on every call)."""
    return any(name in _static_dict(klass) for klass in _static_mro(cls))


def public_methods(value: Any) -> List[Tuple[str, Callable[..., Any], bool]]:
    """``(name, function, bound)`` of each public method of ``value``'s class (static and
    class methods included); found with getattr_static, so no user code runs."""
    cls = type(value)
    methods = []
    for attr in sorted(dir(cls)):
        if attr.startswith("_"):
            continue
        function = plain_function(inspect.getattr_static(value, attr, None))
        if function is not None:
            bound = not isinstance(inspect.getattr_static(cls, attr, None), staticmethod)
            methods.append((attr, function, bound))
    return methods


def _defined_in(module_name: str, project_dir: Path) -> bool:
    source: Optional[str] = getattr(sys.modules.get(module_name), "__file__", None)
    if not source:
        return False
    return inside(source, project_dir)


def inside(filename: str, directory: Path) -> bool:
    """Is ``filename`` within ``directory`` (the user's project)?"""
    if filename.startswith("<"):
        return False    # "<frozen importlib._bootstrap>", "<string>": no file, not relative
    if os.path.isabs(filename):
        return _absolute_inside(filename, str(directory))
    return _absolute_inside(os.path.abspath(filename), str(directory))   # depends on the cwd


@functools.lru_cache(maxsize=1024)
def _absolute_inside(filename: str, directory: str) -> bool:
    """``inside`` for an absolute path: a pure function of two strings, asked again for
    every call of a project method (~4 µs each time uncached)."""
    try:
        return os.path.commonpath([os.path.normpath(filename), directory]) == directory
    except ValueError:
        return False


def describe_object(name: str, value: Any) -> Dict[str, Any]:
    cls = type(value)
    methods = [describe_callable(attr, function, bound=bound)
               for attr, function, bound in public_methods(value)]
    return {"name": name, "type": cls.__name__, "doc": first_line(inspect.getdoc(cls)),
            "methods": methods}


def plain_function(attr: Any) -> Optional[Callable[..., Any]]:
    """The function behind a class attribute found with getattr_static, or None for
    anything else (a property, data): calling this runs no user code."""
    if isinstance(attr, (staticmethod, classmethod)):
        return attr.__func__
    return attr if inspect.isfunction(attr) else None


def describe_callable(name: str, function: Callable[..., Any], bound: bool) -> Dict[str, Any]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return {"name": name, "signature": "(...)", "doc": first_line(inspect.getdoc(function)),
                "parameters": []}
    parameters = list(signature.parameters.values())
    if bound and parameters:
        parameters = parameters[1:]          # self / cls
    shown = signature.replace(
        parameters=[_unquoted(p) for p in parameters],
        return_annotation=_Text.of(signature.return_annotation))
    return {"name": name, "signature": str(shown), "doc": first_line(inspect.getdoc(function)),
            "parameters": [describe_parameter(p) for p in parameters]}


class _Text:
    """An annotation shown as its text: PEP 563 string annotations print without quotes."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    @classmethod
    def of(cls, annotation: Any) -> Any:
        empty = inspect.Signature.empty
        return annotation if annotation is empty else cls(_annotation_text(annotation))


def _unquoted(parameter: inspect.Parameter) -> inspect.Parameter:
    return parameter.replace(annotation=_Text.of(parameter.annotation))


def _annotation_text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def describe_parameter(parameter: inspect.Parameter) -> Dict[str, Any]:
    empty = inspect.Parameter.empty
    annotation = parameter.annotation
    return {
        "name": parameter.name,
        "kind": parameter.kind.name,
        "annotation": None if annotation is empty else _annotation_text(annotation),
        "default": None if parameter.default is empty else repr(parameter.default),
        "required": parameter.default is empty and parameter.kind in (
            parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY),
    }


def first_line(doc: Optional[str]) -> str:
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


__all__ = ["describe_module", "describe_object", "describe_callable", "first_line",
           "project_members", "public_methods"]
