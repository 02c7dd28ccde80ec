"""What an executor command handler may use: the whole contract between executor.commands and
executor.service, so that neither imports the other's internals.

A handler reads the project store and the executor's settings, calls the loaded project, and
acts only through the callables below. It never sees the sockets, the worker pool or the main
loop; the service builds one context when it opens and hands it to every handler.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

from executor.project_store import ProjectStore
from executor.python_runtime import PythonProject


@dataclass(frozen=True)
class CommandContext:
    store: ProjectStore                 # releases, environments, install_upload, reseed
    settings: argparse.Namespace        # the config's executor section (limits, timeouts)
    project: PythonProject              # the current project (loaded or not)
    # Import the project (idempotent); True if this call imported it. Raises LoadError.
    load_project: Callable[[], bool]
    # The current project: name, origin, sha256, type, loaded.
    project_info: Callable[[], Dict[str, Any]]
    # The executor: instance, pid, version, uptime, project, calls in flight.
    status_info: Callable[[], Dict[str, Any]]
    # If the project is loading now, run the stop hooks (why) once it has; True if so.
    stop_when_loaded: Callable[[str], bool]
    # Run the project's stop hooks now (why); one report per hook.
    run_stop_hooks: Callable[[str], List[Dict[str, Any]]]
    # End the executor after the current replies, to be restarted (reason: update, reload).
    request_exit: Callable[[str], None]
