"""Human-readable text for results; pure functions of the reply data (no I/O).

They read the data with ``.get`` so that an older or newer appliance that adds or lacks a
field still gets a readable answer rather than a traceback.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple

from gateway.cli.output import dumps
from gateway.cli.progress import size


def value(data: Any) -> str:
    """A method's return value: pretty JSON."""
    return dumps(data, pretty=True)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = ["%d%s" % (n, unit) for n, unit in parts if n] or ["0s"]
    return "".join(shown[:2])


def project(info: Optional[Dict[str, Any]]) -> str:
    """``name (origin, sha256 0123456789ab, loaded)`` or ``none``."""
    if not info:
        return "none"
    details = [str(info.get("origin", "?")), "sha256 %s" % str(info.get("sha256") or "?")[:12]]
    if "loaded" in info:
        details.append("loaded" if info["loaded"] else "not loaded")
    return "%s (%s)" % (info.get("name", "?"), ", ".join(details))


def status(data: Dict[str, Any], units: Optional[Dict[str, str]]) -> str:
    rows = []
    if units:
        rows.append(("units", ", ".join("%s %s" % item for item in units.items())))
    gateway = data.get("gateway") or {}
    rows.append(("gateway", "version %s, pid %s, up %s" % (
        data.get("version", "?"), gateway.get("pid", "?"), duration(gateway.get("uptime")))))
    executor = data.get("executor")
    if executor:
        rows.append(("executor", "version %s, pid %s, up %s, instance %s" % (
            executor.get("version", "?"), executor.get("pid", "?"),
            duration(executor.get("uptime")), executor.get("instance", "?"))))
        rows.append(("project", project(executor.get("project"))))
        rows.append(("environment", environment(executor.get("environment"))))
        used = executor.get("environments") or {}
        rows.append(("environments", "%s on disk, %s in all" % (
            size(used.get("bytes") or 0), used.get("count", "?"))))
    else:
        rows.append(("executor", "not running"))
    rows.append(("controller", holder(data.get("controller"))))
    rows.append(("observers", str(data.get("observers", "?"))))
    rows.append(("last restart", restart(data.get("last_restart"))))
    return table(rows)


def environment(info: Optional[Dict[str, Any]]) -> str:
    """``robopkg 1.0, numpy 1.26.4 (2.1 MiB)``, or ``none`` (the project has no
    requirements.txt and runs on the system's Python)."""
    if not info:
        return "none"
    distributions = ", ".join("%s %s" % (d.get("name"), d.get("version"))
                              for d in info.get("distributions") or [])
    return "%s (%s)" % (distributions or "no distributions", size(info.get("bytes") or 0))


def when(value: Any) -> str:
    """An epoch timestamp in local time; anything else (an ISO string) as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return str(value if value is not None else "?")


def holder(client: Optional[Dict[str, Any]]) -> str:
    if not client:
        return "none"
    return "%s since %s" % (client.get("address", "?"), when(client.get("since")))


def restart(info: Optional[Dict[str, Any]]) -> str:
    if not info:
        return "?"
    detail = " (%s)" % info["detail"] if info.get("detail") else ""
    return "%s%s at %s" % (info.get("reason", "?"), detail, when(info.get("time")))


def table(rows: List[Tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join("%-*s  %s" % (width, label, text) for label, text in rows)


def describe(data: Dict[str, Any]) -> str:
    """The project's objects, their methods and its functions as an indented tree."""
    lines = ["project " + project(data.get("project"))]
    if data.get("environment"):
        lines.append("environment " + environment(data.get("environment")))
    if data.get("loaded") is False:
        lines.append("not loaded: its objects show once it is started (observers never load it)")
    for obj in data.get("objects") or []:
        lines.append(_with_doc("%s: %s" % (obj.get("name"), obj.get("type")), obj.get("doc")))
        for method in obj.get("methods") or []:
            lines.append("  " + _callable(method))
    functions = data.get("functions") or []
    if functions:
        lines.append("functions (call with OBJECT -)")
        lines.extend("  " + _callable(function) for function in functions)
    return "\n".join(lines)


def _callable(entry: Dict[str, Any]) -> str:
    return _with_doc("%s%s" % (entry.get("name"), entry.get("signature") or "()"), entry.get("doc"))


def _with_doc(text: str, doc: Any) -> str:
    return "%s  # %s" % (text, doc) if doc else text


def deployed(result: Dict[str, Any]) -> str:
    """What ``deploy`` did: the upload, the started project and its missing requirements."""
    upload = result.get("upload") or {}
    info = result.get("project") or {}
    resumed = upload.get("resumed_from")
    lines = ["uploaded %s (%s%s)" % (upload.get("name"), size(upload.get("size") or 0),
                                      ", resumed at %s" % size(resumed) if resumed else ""),
             "project  " + project(info)]
    missing = info.get("missing_requirements") or []
    if missing:
        lines.append("missing requirements: %s" % ", ".join(str(m) for m in missing))
    return "\n".join(lines)
