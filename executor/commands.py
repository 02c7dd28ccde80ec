"""The executor's command handlers, registered in one table.

Adding a command is one handler and one entry in COMMANDS. A handler runs on the loop's
thread (executor.leadership; a slow one loses the loop to another thread) or, if the command
is slow by design, on a worker thread. It takes a ``CommandContext``
(executor.command_context: all a handler may use) and the request, and returns a
``calls.Result``; an exception it raises becomes an error reply with the exception's type,
text and the user's line.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from executor import project_env
from executor.calls import Result, failed, ok
from executor.command_context import CommandContext
from executor.python_runtime import CallError, LoadError, describe_exception
from executor.zip_archive import ArchiveError, ArchiveLimits
from executor.store_errors import StoreError
from executor.release_manifest import hash_files, project_hash
from shared import error_codes, messages

log = logging.getLogger(__name__)

Handler = Callable[[CommandContext, messages.Request], Result]


@dataclass(frozen=True)
class Command:
    handler: Handler
    # A call a user makes: subject to max_execution_time, and its reply carries pending
    # notices (a rollback).
    user_call: bool = False
    # Slow by design: handed to a worker at once rather than run by the loop's thread, which
    # would hold the loop for leadership.HANDOFF_AFTER and then cost a takeover.
    on_worker: bool = False


def start(ctx: CommandContext, request: messages.Request) -> Result:
    """Import the current project (idempotent)."""
    try:
        imported = ctx.load_project()
    except LoadError as e:
        return failed(str(e), error_codes.LOAD_FAILED,
                      {"error": e.details, "project": ctx.project_info()})
    data = ctx.project_info()
    missing = ctx.project.missing_requirements()
    data["missing_requirements"] = missing
    message = "Project started" if imported else "Project already started"
    if missing:
        message += "; requirements not installed: " + ", ".join(missing)
    return ok(message, data)


def _load_on_first_use(ctx: CommandContext, request: messages.Request) -> Optional[Result]:
    """Load the project if it is not loaded yet; the failed start's Result if it cannot be."""
    if ctx.project.loaded:
        return None
    result = start(ctx, request)
    return result if result.status != "success" else None


def process(ctx: CommandContext, request: messages.Request) -> Result:
    """Call ``object.method(args)`` on the project, loading it first if needed."""
    args = request.args
    obj, method, call_args = args.get("object"), args["method"], args.get("args")
    refused = _load_on_first_use(ctx, request)
    if refused is not None:
        return refused
    try:
        function = ctx.project.resolve(obj, method)
    except CallError as e:
        return failed(str(e), e.code)
    try:
        if isinstance(call_args, dict):
            value = function(**call_args)
        elif isinstance(call_args, list):
            value = function(*call_args)
        else:
            value = function()
    except TypeError as e:
        if not _raised_by_the_call(e):
            raise
        message, details = describe_exception(e, ctx.project.path)
        return failed(message, error_codes.BAD_ARGUMENTS, {"error": details})
    return ok("%s.%s returned" % (obj or "main", method), value)


def _raised_by_the_call(error: TypeError) -> bool:
    """Whether the arguments did not fit: the TypeError came from the call itself (binding
    the arguments), not from a frame inside the called function."""
    return error.__traceback__ is not None and error.__traceback__.tb_next is None


def describe(ctx: CommandContext, request: messages.Request) -> Result:
    """The loaded project's objects and methods (loading it first if needed, unless the
    gateway asks not to: an observer's describe must never run user code)."""
    if not ctx.project.loaded and request.args.get("load") is False:
        return ok("the project is not loaded; start it to see its objects",
                  {"project": ctx.project_info(), "loaded": False, "objects": [],
                   "functions": [], "environment": _current_environment(ctx)})
    refused = _load_on_first_use(ctx, request)
    if refused is not None:
        return refused
    data = dict(ctx.project.describe(), project=ctx.project_info(), loaded=True,
                environment=_current_environment(ctx))
    return ok("project description", data)


def _current_environment(ctx: CommandContext) -> Optional[Dict[str, Any]]:
    """The current project's environment: its id, distributions and size; None if none."""
    store = ctx.store
    return store.environments.describe(store.current_environment())


def update(ctx: CommandContext, request: messages.Request) -> Result:
    """Install the uploaded zip as the current project, then exit to be restarted."""
    if request.blob is None:
        return failed("update: no archive was sent", error_codes.UPDATE_REJECTED)
    settings = ctx.settings
    limits = ArchiveLimits(settings.max_project_size, settings.max_project_files)
    env_settings = project_env.Settings(settings.requirements, settings.install_timeout,
                                        settings.max_project_size)
    store = ctx.store
    try:
        info = store.install_upload(
            request.blob, limits, _upload_name(request.args),
            lambda staged: project_env.build(store.environments, staged, env_settings))
    except (ArchiveError, StoreError, project_env.EnvError) as e:
        return failed("update rejected: %s" % e, error_codes.UPDATE_REJECTED)
    log.info("installed uploaded project %s (%s); restarting to load it", info.name, info.sha256[:12])
    return ok("Project updated; the executor restarts to load it", info.to_dict(),
              after_reply=lambda: ctx.request_exit("update"))


def _upload_name(args: Dict[str, Any]) -> Optional[str]:
    """The uploaded file's name without .zip, if the client gave a sensible one."""
    name = args.get("name")
    if not isinstance(name, str):
        return None
    name = os.path.basename(name)
    name = name[:-4] if name.lower().endswith(".zip") else name
    return name[:64] if name and not name.startswith(".") else None


def client_left(ctx: CommandContext, request: messages.Request) -> Result:
    """The controlling client disconnected: run the stop() hooks, keep everything loaded."""
    if ctx.stop_when_loaded("the client disconnected"):
        return ok("the project is loading; its stop hooks run once it has loaded", [])
    reports = ctx.run_stop_hooks("the client disconnected")
    problems = [r["message"] for r in reports if r["status"] != "success"]
    if problems:
        return failed("stop hooks had problems: " + "; ".join(problems),
                      error_codes.STOP_HOOKS_FAILED, {"reports": reports})
    return ok("stop hooks ran", reports)


def status(ctx: CommandContext, request: messages.Request) -> Result:
    data = dict(ctx.status_info(), environment=_current_environment(ctx),
                environments=ctx.store.environments.usage())
    return ok("executor status", data)


def reseed_default(ctx: CommandContext, request: messages.Request) -> Result:
    """The default project changed on disk: if it is what runs, re-seed and restart."""
    current = ctx.store.current_info()
    if current.origin != "default":
        return ok("the current project is an upload; the default project change was not applied",
                  {"applied": False, "restarting": False})
    if project_hash(hash_files(ctx.store.default_dir)) == current.sha256:
        return ok("the current project already is the default project",
                  {"applied": False, "restarting": False})
    info = ctx.store.reseed_from_default()
    return ok("re-seeded the current project from the default; restarting",
              dict(info.to_dict(), applied=True), after_reply=lambda: ctx.request_exit("reload"))


COMMANDS: Dict[str, Command] = {
    "start": Command(start, user_call=True),
    "process": Command(process, user_call=True),
    "update": Command(update, on_worker=True),            # extracts, may install for minutes
    "client_left": Command(client_left, on_worker=True),  # waits for the stop hooks
    "status": Command(status),
    "describe": Command(describe, user_call=True),
    "reseed_default": Command(reseed_default, on_worker=True),  # hashes the default project
}


def lookup(name: str) -> Optional[Command]:
    return COMMANDS.get(name)
