"""Fault injection for integration tests: on PYTHONPATH, Python imports this at start-up.

``ROBOTCTL_TEST_FAULT=connect_after_admission`` makes the gateway's first connection fail
after the client was admitted (building its server_info raises), once;
``ROBOTCTL_TEST_FAULT=status_raises`` makes the gateway's ``status`` handler raise, once.
Nothing of this is part of robotctl; a test puts this folder first on PYTHONPATH to use it.
"""
import importlib.abc
import importlib.machinery
import os
import sys

FAULT = os.environ.get("ROBOTCTL_TEST_FAULT")


class _PatchHandlers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "gateway.handlers":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            PATCHES[FAULT](module.Handlers)
        spec.loader.exec_module = exec_module
        return spec


def _fail_server_info(handlers):
    original = handlers.server_info
    failed = []

    def server_info(self, client=None):
        if client is not None and not failed:
            failed.append(client)
            raise RuntimeError("injected fault after admission")
        return original(self, client)
    handlers.server_info = server_info


def _fail_status(handlers):
    original = handlers.status
    failed = []

    def status(self, sid, payload=None):
        if not failed:
            failed.append(sid)
            raise RuntimeError("injected fault in status")
        return original(self, sid, payload)
    handlers.status = status


PATCHES = {"connect_after_admission": _fail_server_info, "status_raises": _fail_status}

if FAULT in PATCHES and sys.argv[:1] != [""]:
    sys.meta_path.insert(0, _PatchHandlers())
