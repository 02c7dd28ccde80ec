"""Chunked upload that survives reconnects: upload_begin, acked upload_chunk, upload_commit.

Progress is the acked byte count. When the connection drops, a new one is opened and
``upload_begin`` (same size and sha256) answers the offset the appliance already holds,
so the upload carries on from there rather than from zero.
"""
from __future__ import annotations

import base64
import hashlib
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from gateway.cli.connection import Connection, ConnectionLost
from gateway.cli.errors import APP_ERROR, CONNECT, CliError
from gateway.cli.progress import Progress, size
from shared import error_codes, protocol

Connect = Callable[[], Connection]
RESYNCS = 3          # offset mismatches tolerated in a row before giving up
# Chunk errors the upload recovers from: the appliance holds other bytes than we thought
# (continue from data.received), or holds no upload (begin again, which answers the offset).
RESUMABLE = (error_codes.UPLOAD_OUT_OF_ORDER, error_codes.NO_UPLOAD)


class Upload:
    def __init__(self, blob: bytes, name: str, progress: Progress):
        self.blob = blob
        self.name = name
        self.sha256 = hashlib.sha256(blob).hexdigest()
        self.progress = progress
        self.resumed_from: Optional[int] = None   # the first non-zero offset the appliance had
        self._shown: List[Connection] = []          # connections showing the install's lines

    def run(self, connect: Connect, patience: float) -> Tuple[Connection, Any]:
        """Upload and commit; return the still-open connection and the commit's data.

        A lost connection is reopened (for up to ``patience`` seconds) and the upload resumed.
        """
        connection = connect()
        while True:
            try:
                self._send(connection)
                committed = self._commit(connection)
                self.progress.finish()
                return connection, committed
            except ConnectionLost as e:
                connection.close()
                self.progress.note("%s; reconnecting to resume the upload" % e.message)
                connection = reopen(connect, patience)
            except BaseException:
                self.progress.finish()
                connection.close()
                raise

    def _commit(self, connection: Connection) -> Any:
        """upload_commit: the appliance installs the project (and its requirements, whose
        pip lines are shown as they come) and answers once the new executor is up."""
        self.progress.note("uploaded; installing on the robot")
        if connection not in self._shown:
            self._shown.append(connection)
            connection.listen(self._install_line)
        return connection.request(protocol.UPLOAD_COMMIT, {})

    def _install_line(self, name: str, data: Any) -> None:
        text = data.get("text") if name == protocol.LOG and isinstance(data, dict) else None
        if isinstance(text, str) and text.startswith(protocol.INSTALL_LOG_PREFIX):
            print("install: %s" % text[len(protocol.INSTALL_LOG_PREFIX):],
                  file=self.progress.stream, flush=True)

    def summary(self) -> Dict[str, Any]:
        return {"name": self.name, "size": len(self.blob), "sha256": self.sha256,
                "resumed_from": self.resumed_from}

    def _send(self, connection: Connection) -> None:
        offset, chunk_size = self._begin(connection)
        resyncs = 0
        while offset < len(self.blob):
            chunk = self.blob[offset:offset + chunk_size]
            reply = connection.ack(protocol.UPLOAD_CHUNK, {
                "offset": offset, "data": base64.b64encode(chunk).decode("ascii")})
            code = protocol.error_code(reply)
            if code is None:
                resyncs = 0
            elif code not in RESUMABLE or resyncs >= RESYNCS:
                raise CliError(APP_ERROR, str(reply.get("message")), reply.get("data"))
            else:
                resyncs += 1
            if code == error_codes.NO_UPLOAD:
                offset, chunk_size = self._begin(connection)
                continue
            received = _received(reply)
            offset = received if received is not None else offset + len(chunk)
            self.progress.update(offset)

    def _begin(self, connection: Connection) -> Tuple[int, int]:
        """upload_begin: the offset to go on from (what the appliance holds) and the chunk size."""
        begun = connection.request(protocol.UPLOAD_BEGIN, {
            "size": len(self.blob), "sha256": self.sha256, "name": self.name})
        offset, chunk_size = _begin_reply(begun)
        if offset > 0:
            self.resumed_from = self.resumed_from or offset
            self.progress.note("resuming the upload at %s of %s"
                               % (size(offset), size(len(self.blob))))
        self.progress.update(offset)
        return offset, chunk_size


def reopen(connect: Connect, patience: float) -> Connection:
    """A new connection, retrying refusals as busy while the appliance notices the old one left."""
    deadline = time.monotonic() + patience
    delay = 0.2
    while True:
        try:
            return connect()
        except CliError as e:
            if e.exit_code != CONNECT or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _begin_reply(data: Any) -> Tuple[int, int]:
    if not isinstance(data, dict) or not isinstance(data.get("offset"), int):
        raise CliError(APP_ERROR, "upload_begin answered %r, not {offset, chunk_size}" % (data,))
    chunk_size = data.get("chunk_size")
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        chunk_size = protocol.CHUNK_SIZE
    return data["offset"], min(chunk_size, protocol.CHUNK_SIZE)


def _received(reply: Dict[str, Any]) -> Optional[int]:
    data = reply.get("data")
    value = data.get("received") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None
