"""Fault injection for integration tests: on PYTHONPATH, Python imports this at start-up.

``ROBOTCTL_TEST_FAULT=connect_after_admission`` makes the gateway's first connection fail
after the client was admitted (building its server_info raises), once;
``ROBOTCTL_TEST_FAULT=status_raises`` makes the gateway's ``status`` handler raise, once;
``ROBOTCTL_TEST_FAULT=blind_to_executor_exit`` makes the gateway miss (and log) the socket
monitor's news that the executor disconnected, so it still takes the executor as up: the
window between an executor's death and the gateway noticing it, held open;
``ROBOTCTL_TEST_FAULT=upload_slips`` makes the gateway forget the upload in progress at the
2nd ``upload_chunk`` (as a restarted gateway would: ``no_upload``) and lose the last 1000
bytes it received at the 4th (the next chunk is then ``upload_out_of_order``), once each.
Nothing of this is part of robotctl; a test puts this folder first on PYTHONPATH to use it.
"""
import importlib.abc
import importlib.machinery
import os
import sys

FAULT = os.environ.get("ROBOTCTL_TEST_FAULT")


class _PatchModule(importlib.abc.MetaPathFinder):
    """Apply the fault's patch to its module's class right after the module is imported."""

    def __init__(self, module, cls, patch):
        self.module, self.cls, self.patch = module, cls, patch

    def find_spec(self, name, path, target=None):
        if name != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            self.patch(getattr(module, self.cls))
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


def _miss_executor_exit(link):
    original = link._peer_event

    def _peer_event(self, frames):
        import zmq
        from shared import sockets
        if sockets.peer_event_number(frames) == zmq.EVENT_DISCONNECTED:
            print("injected fault: the gateway missed the executor's disconnection", flush=True)
            return
        original(self, frames)
    link._peer_event = _peer_event


def _slip_uploads(uploads):
    original = uploads.chunk
    calls = []

    def chunk(self, payload):
        calls.append(payload)
        if len(calls) == 2 and self._upload is not None:
            self._upload = None
            print("injected fault: the gateway forgot the upload", flush=True)
        elif len(calls) == 4 and self._upload is not None and self._upload.received > 1000:
            del self._upload.data[-1000:]
            print("injected fault: the gateway lost the last 1000 bytes", flush=True)
        return original(self, payload)
    uploads.chunk = chunk


PATCHES = {"connect_after_admission": ("gateway.handlers", "Handlers", _fail_server_info),
           "status_raises": ("gateway.handlers", "Handlers", _fail_status),
           "blind_to_executor_exit": ("gateway.executor_link", "ExecutorLink",
                                      _miss_executor_exit),
           "upload_slips": ("gateway.chunked_upload", "ChunkedUploads", _slip_uploads)}

if FAULT in PATCHES and sys.argv[:1] != [""]:
    sys.meta_path.insert(0, _PatchModule(*PATCHES[FAULT]))
