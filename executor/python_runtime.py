"""The Python project type: import ``main.py``, call methods of its globals, run stop hooks.

The module is imported once per executor process; Python cannot unload it, which is why the
executor is restarted after every update.
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Callable, Dict, List, Optional, Tuple

from executor.introspection import (describe_module, find_callable, inside, plain_function,
                                    project_members, public_methods)
from shared import error_codes

log = logging.getLogger(__name__)

PushFunction = Callable[[str, Any], None]
MODULE_NAME = "main"


class LoadError(Exception):
    """The project could not be imported; str(e) has the exception and the line in the user's file."""

    def __init__(self, message: str, details: Dict[str, Any]):
        super().__init__(message)
        self.details = details


class CallError(Exception):
    """The call names something the project does not have; str(e) says what, ``code``
    whether the object or the method (error_codes.UNKNOWN_OBJECT / UNKNOWN_METHOD)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def describe_exception(exc: BaseException, project_dir: Path) -> Tuple[str, Dict[str, Any]]:
    """``"ZeroDivisionError: division by zero (main.py, line 3)"`` and structured details.

    The location is the innermost traceback frame inside the project, i.e. the user's line.
    """
    where: Optional[Tuple[str, int]] = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = (exc.filename, exc.lineno or 0)
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if inside(frame.filename, project_dir):
                where = (frame.filename, frame.lineno or 0)
    said = str(exc.msg if isinstance(exc, SyntaxError) else exc)
    # ``KeyboardInterrupt()`` says nothing: its name alone, not "KeyboardInterrupt: ".
    text = "%s: %s" % (type(exc).__name__, said) if said else type(exc).__name__
    details: Dict[str, Any] = {"type": type(exc).__name__, "file": None, "line": None}
    if where is not None:
        relative = os.path.relpath(where[0], str(project_dir))
        text += " (%s, line %d)" % (relative, where[1])
        details.update(file=relative, line=where[1])
    details["traceback"] = "".join(traceback.format_exception(
        type(exc), exc, _user_frames(exc.__traceback__, project_dir)))
    return text, details


def _user_frames(tb: Optional[TracebackType], project_dir: Path) -> Optional[TracebackType]:
    """The traceback from the first frame in the user's project on (the executor's own frames
    say nothing to the user); all of it if no frame is the user's."""
    start = tb
    while start is not None and not inside(start.tb_frame.f_code.co_filename, project_dir):
        start = start.tb_next
    return start or tb


def _callable(objects: Dict[str, Any], functions: Dict[str, Any]) -> str:
    return ("callable are the objects %s and the functions %s defined in the project (not "
            "names starting with '_', modules, or objects from outside the project)"
            % (", ".join(objects) or "(none)", ", ".join(functions) or "(none)"))


def stoppable_objects(namespace: Dict[str, Any]) -> List[Tuple[str, Callable[[], Any]]]:
    """The stop hooks of a module namespace: ``stop()`` of every module-level *instance* that
    has one, then the module-level ``stop()`` function. Classes, modules and functions are
    never stopped, and an instance bound to two names is stopped once. Looking up uses
    ``inspect.getattr_static``, so no property or ``__getattr__`` of user code runs.
    """
    hooks: List[Tuple[str, Callable[[], Any]]] = []
    seen = set()
    for name, value in list(namespace.items()):
        if name.startswith("__") or id(value) in seen:
            continue
        if inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value):
            continue
        if plain_function(inspect.getattr_static(value, "stop", None)) is None:
            continue     # absent, or a property / data that must not be evaluated
        method = getattr(value, "stop", None)
        if callable(method):
            seen.add(id(value))
            hooks.append(("%s.stop" % name, method))
    function = namespace.get("stop")
    if inspect.isfunction(function):
        hooks.append(("stop", function))
    return hooks


class PythonProject:
    """A project whose entry is ``main.py``; module-level globals are the callable objects."""

    kind = "python"
    marker = "main.py"

    def __init__(self, path: Path, push: PushFunction):
        self.path = path
        self._push = push
        self._module: Optional[ModuleType] = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._module is not None

    def load(self) -> bool:
        """Import main.py once. Returns True if this call imported it, False if it was loaded.

        ``push_message`` is injected before the module's code runs (code run at import may
        push) and again after (projects declare ``push_message = None`` as a placeholder).
        """
        with self._lock:
            if self._module is not None:
                return False
            self._module = self._import()
            return True

    def _import(self) -> ModuleType:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, str(self.path / self.marker))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.push_message = self._push  # type: ignore[attr-defined]
        sys.path.insert(0, str(self.path))
        os.chdir(str(self.path))   # projects open their data files by relative path
        sys.modules[MODULE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as e:  # noqa: B902 - SystemExit from user code is a load error too
            sys.modules.pop(MODULE_NAME, None)
            message, details = describe_exception(e, self.path)
            raise LoadError("cannot load the project: " + message, details) from None
        module.push_message = self._push  # type: ignore[attr-defined]
        return module

    def resolve(self, obj: Optional[str], method: str) -> Callable[..., Any]:
        """The callable for ``obj.method`` (or the module function ``method``): exactly what
        ``describe`` lists, nothing else (see introspection.project_members)."""
        assert self._module is not None
        function = find_callable(self._module, self.path, obj, method)
        if function is not None:
            return function
        objects, functions = project_members(self._module, self.path)   # to say what there is
        if obj is None:
            if method not in functions:
                raise CallError("unknown function %r: %s" % (method, _callable(objects, functions)),
                                error_codes.UNKNOWN_METHOD)
            found: Callable[..., Any] = functions[method]
            return found
        if obj not in objects:
            raise CallError("unknown object %r: %s" % (obj, _callable(objects, functions)),
                            error_codes.UNKNOWN_OBJECT)
        target = objects[obj]
        methods = [name for name, _, _ in public_methods(target)]
        if method not in methods:
            raise CallError("unknown method %r of %s (%s); its methods are: %s"
                            % (method, obj, type(target).__name__, ", ".join(methods) or "none"),
                            error_codes.UNKNOWN_METHOD)
        bound_method: Callable[..., Any] = getattr(target, method)
        return bound_method

    def stop_hooks(self) -> List[Tuple[str, Callable[[], Any]]]:
        return stoppable_objects(vars(self._module)) if self._module is not None else []

    def describe(self) -> Dict[str, Any]:
        assert self._module is not None
        return describe_module(self._module, self.path)

    def missing_requirements(self) -> List[str]:
        """Requirements named in the project's requirements.txt that are not installed."""
        from executor import requirements
        return requirements.missing(self.path / "requirements.txt")
