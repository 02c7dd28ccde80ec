"""The WSGI layer in front of Socket.IO and the console: refuses what the origin policy
refuses (logged once per origin or host, through access_log), and answers 404 for console
paths that are not files (``/console/..``, a folder) instead of failing on them."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List

from gateway import access_log
from gateway.origin_policy import OriginPolicy, Refusal

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HttpGuard:
    def __init__(self, app: WSGIApp, policy: OriginPolicy, console_dir: str,
                 console_prefix: str = "/console/"):
        self.app, self.policy = app, policy
        self.console_dir, self.console_prefix = console_dir, console_prefix

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            self.policy.check(environ)
        except Refusal as refusal:
            if self.policy.first_refusal(refusal):
                access_log.refused(access_log.address_of(environ), refusal.reason,
                                   " (%s %s; %s)" % (refusal.reason.capitalize(), refusal.value,
                                                     refusal.advice))
            return _answer(start_response, "400 BAD REQUEST" if refusal.reason == "origin"
                           else "403 FORBIDDEN", "Not an accepted %s." % refusal.reason)
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.console_prefix) and not self._is_console_file(path):
            return _answer(start_response, "404 NOT FOUND", "Not Found")
        return self.app(environ, start_response)

    def _is_console_file(self, path: str) -> bool:
        rest = path[len(self.console_prefix):]
        if not rest:
            return True     # the console's index page
        parts = rest.split("/")
        if any(part in ("", ".", "..") for part in parts):
            return False
        return os.path.isfile(os.path.join(self.console_dir, *parts))


def _answer(start_response: Callable[..., Any], status: str, text: str) -> List[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
