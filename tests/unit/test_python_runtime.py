"""Unit tests for executor.python_runtime: stop hooks, error locations, loading and calling."""
from __future__ import annotations

import os
import sys
import textwrap
import threading
import types
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

from executor.python_runtime import (CallError, LoadError, PythonProject, describe_exception,
                                     stoppable_objects)


# -- stoppable_objects ----------------------------------------------------------------------

class Motor:
    def __init__(self) -> None:
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1


class NoStop:
    pass


class ClassWithStop:
    @classmethod
    def stop(cls) -> None:
        raise AssertionError("classes are never stopped")


class StaticStop:
    stop = staticmethod(lambda: None)


class StopIsData:
    stop = 5


class Dynamic:
    """Answers every attribute through __getattr__: it has no real stop()."""
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("__getattr__(%r) must not run" % name)


class StopProperty:
    @property
    def stop(self) -> Any:
        raise AssertionError("a property must not run while looking for stop hooks")


def module_function() -> None:
    pass


module_function.stop = lambda: None  # type: ignore[attr-defined]


def names(hooks: List[Tuple[str, Any]]) -> List[str]:
    return [name for name, _ in hooks]


def test_instances_are_stopped_not_classes_modules_or_functions():
    motor, other = Motor(), Motor()
    fake_module = types.ModuleType("fake")
    fake_module.stop = lambda: None
    namespace = {
        "motor": motor, "other": other, "nothing": NoStop(), "ClassWithStop": ClassWithStop,
        "Motor": Motor, "StaticStop": StaticStop, "fake": fake_module, "os": os,
        "module_function": module_function, "number": 42, "text": "stop", "items": [motor],
        "data": StopIsData(), "bound": motor.stop, "builtin": len,
    }
    hooks = stoppable_objects(namespace)
    assert names(hooks) == ["motor.stop", "other.stop"]
    for _, hook in hooks:
        hook()
    assert motor.stops == 1 and other.stops == 1


def test_an_instance_bound_to_two_names_is_stopped_once():
    motor = Motor()
    hooks = stoppable_objects({"motor": motor, "alias": motor, "again": motor})
    assert names(hooks) == ["motor.stop"]


def test_the_module_stop_function_comes_last():
    calls = []

    def stop() -> None:
        calls.append("module")

    motor = Motor()
    hooks = stoppable_objects({"stop": stop, "motor": motor})
    assert names(hooks) == ["motor.stop", "stop"]
    hooks[1][1]()
    assert calls == ["module"]


def test_a_module_stop_that_is_not_a_function_is_not_the_module_hook():
    assert stoppable_objects({"stop": None}) == []
    assert stoppable_objects({"stop": len}) == []
    assert names(stoppable_objects({"stop": Motor()})) == ["stop.stop"]  # an instance named stop


def test_dunder_names_are_skipped():
    assert stoppable_objects({"__builtins__": {"stop": 1}, "__loader__": Motor()}) == []


def test_lookup_runs_no_user_code():
    assert stoppable_objects({"dynamic": Dynamic()}) == []
    hooks = stoppable_objects({"prop": StopProperty()})   # must not raise
    assert names(hooks) in ([], ["prop.stop"])


# -- describe_exception ---------------------------------------------------------------------

@pytest.fixture
def isolated():
    """PythonProject imports into this process: restore cwd, sys.path and sys.modules."""
    cwd, path, modules = os.getcwd(), list(sys.path), dict(sys.modules)
    yield
    os.chdir(cwd)
    sys.path[:] = path
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]
    sys.modules.update(modules)


def make_project(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def load(root: Path, pushes: Optional[list] = None) -> PythonProject:
    project = PythonProject(root, lambda event, data: (pushes if pushes is not None else []).append(
        (event, data)))
    project.load()
    return project


def raised(function, *args) -> BaseException:
    try:
        function(*args)
    except BaseException as e:  # noqa: B902
        return e
    raise AssertionError("did not raise")


def test_location_is_the_users_line(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": """
        class Bot:
            def fail(self):
                x = 1
                raise ValueError("motor fault")
        bot = Bot()
    """})
    project = load(root)
    error = raised(project.resolve("bot", "fail"))
    message, details = describe_exception(error, root)
    assert message == "ValueError: motor fault (main.py, line 4)"
    assert details["type"] == "ValueError" and details["file"] == "main.py" and details["line"] == 4
    assert "motor fault" in details["traceback"] and "python_runtime" not in details["traceback"]


def test_an_exception_that_says_nothing_is_named_alone(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": """
        def interrupt():
            raise KeyboardInterrupt()
    """})
    error = raised(load(root).resolve(None, "interrupt"))
    assert describe_exception(error, root)[0] == "KeyboardInterrupt (main.py, line 2)"


def test_location_is_the_innermost_user_frame_not_the_library(tmp_path, isolated):
    root = make_project(tmp_path, {
        "main.py": """
            import json
            from lib import tools
            def parse():
                return json.loads("{broken")
            def deep():
                return tools.divide(1, 0)
        """,
        "lib/tools.py": """
            def divide(a, b):
                return a / b
        """,
        "lib/__init__.py": "",
    })
    project = load(root)
    message, _ = describe_exception(raised(project.resolve(None, "parse")), root)
    assert message.startswith("JSONDecodeError: ") and message.endswith("(main.py, line 4)")
    message, details = describe_exception(raised(project.resolve(None, "deep")), root)
    assert message == "ZeroDivisionError: division by zero (lib/tools.py, line 2)"
    assert details["file"] == "lib/tools.py"


def test_no_location_without_a_user_frame(tmp_path):
    message, details = describe_exception(raised(int, "x"), tmp_path)
    assert message == "ValueError: invalid literal for int() with base 10: 'x'"
    assert details["file"] is None and details["line"] is None


def test_import_errors_name_the_exception_and_line(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": """
        push_message = None
        import no_such_module_xyz
    """})
    project = PythonProject(root, lambda event, data: None)
    with pytest.raises(LoadError) as caught:
        project.load()
    assert str(caught.value) == ("cannot load the project: ModuleNotFoundError: No module named "
                                 "'no_such_module_xyz' (main.py, line 2)")
    assert caught.value.details["line"] == 2
    assert not project.loaded and "main" not in sys.modules


def test_syntax_errors_name_the_line(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": "x = 1\ndef broken(:\n    pass\n"})
    with pytest.raises(LoadError) as caught:
        PythonProject(root, lambda event, data: None).load()
    assert str(caught.value).startswith("cannot load the project: SyntaxError: ")
    assert str(caught.value).endswith("(main.py, line 2)")


# -- loading and calling --------------------------------------------------------------------

def test_push_message_is_injected_before_and_after_the_module_runs(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": """
        push_message("loaded", {"at": "import"})
        push_message = None
        def later():
            push_message("later", {"thread": True})
    """})
    pushes: list = []
    project = load(root, pushes)
    assert pushes == [("loaded", {"at": "import"})]
    thread = threading.Thread(target=project.resolve(None, "later"))
    thread.start()
    thread.join(10)
    assert pushes[-1] == ("later", {"thread": True})


def test_load_is_idempotent(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": "COUNT = []\nCOUNT.append(1)\n"})
    project = PythonProject(root, lambda event, data: None)
    assert project.load() is True
    assert project.load() is False
    assert project.loaded
    assert sys.modules["main"].COUNT == [1]     # the module's code ran once


def test_resolve_refuses_what_the_project_does_not_have(tmp_path, isolated):
    root = make_project(tmp_path, {"main.py": """
        class Bot:
            speed = 3
            def go(self):
                return "going"
        bot = Bot()
        def ping():
            return "pong"
    """})
    project = load(root)
    assert project.resolve("bot", "go")() == "going"
    assert project.resolve(None, "ping")() == "pong"
    for obj, method, words in [("nobody", "go", "unknown object 'nobody'"),
                               ("bot", "fly", "unknown method 'fly'"),
                               ("bot", "speed", "unknown method 'speed'"),
                               ("bot", "__class__", "its methods are: go"),
                               ("__builtins__", "open", "callable are the objects bot")]:
        with pytest.raises(CallError) as caught:
            project.resolve(obj, method)
        assert words in str(caught.value), str(caught.value)


def test_resolve_offers_exactly_what_describe_lists(tmp_path, isolated):
    """Every call resolves its one name directly (introspection.find_callable); that must
    agree, name by name, with the lists describe shows and error messages quote."""
    root = make_project(tmp_path, {"helpers.py": """
        class Helper:
            def help(self):
                return "help"
        def helper_function():
            return 1
    """, "main.py": """
        import os
        from os.path import join
        from helpers import Helper, helper_function
        import helpers

        class Base:
            def inherited(self):
                return "inherited"

        class Bot(Base):
            speed = 3
            handler = staticmethod(lambda: "lambda")
            def go(self):
                return "going"
            @staticmethod
            def still():
                return "still"
            @classmethod
            def kind(cls):
                return "kind"
            @property
            def busy(self):
                raise AssertionError("a property never runs")
            def _private(self):
                return "private"

        bot = Bot()
        bot.go_later = lambda: "instance attribute"
        bot.extra = join
        helper = Helper()
        _hidden = Bot()
        alias = bot
        def ping():
            return "pong"
        def _secret():
            return "secret"
        mirror = ping
        numbers = [1, 2]
    """})
    project = load(root)
    from executor.introspection import project_members, public_methods
    objects, functions = project_members(sys.modules["main"], root)
    offered = {(None, name) for name in functions}
    offered |= {(obj, name) for obj, value in objects.items() for name, _, _ in public_methods(value)}
    names = set(vars(sys.modules["main"])) | {"nobody"}
    methods = {"go", "still", "kind", "busy", "_private", "inherited", "speed", "handler",
               "go_later", "extra", "help", "append", "__init__", "__class__", "mro", "nothing"}
    assert ("bot", "go") in offered and (None, "ping") in offered and (None, "mirror") in offered
    for obj in names | {None}:
        for method in (methods | names) if obj is None else methods:
            if (obj, method) in offered:
                assert callable(project.resolve(obj, method)), (obj, method)
            else:
                with pytest.raises(CallError):
                    project.resolve(obj, method)
