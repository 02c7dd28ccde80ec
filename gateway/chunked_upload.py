"""The chunked upload: ``upload_begin`` / ``upload_chunk`` / ``upload_commit``.

Large projects travel over slow Wi-Fi in acked chunks of at most 1 MiB, so the client's
Engine.IO pongs are never stuck behind one huge frame, and progress is the acked byte count.
One unfinished upload is kept, keyed by its size and sha256, so a client that reconnects
resumes from the last acked offset by sending the same ``upload_begin`` again.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Optional, Tuple

from shared import error_codes, protocol
from shared.protocol import ProtocolError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Upload:
    def __init__(self, size: int, sha256: str, name: str):
        self.size, self.sha256, self.name = size, sha256, name
        self.data = bytearray()

    @property
    def received(self) -> int:
        return len(self.data)


# What a ZIP may add to its files' contents, per file: the local header and the central
# directory entry (each with the name; names are at most 255 bytes in practice), and a
# data descriptor.
ZIP_OVERHEAD_PER_FILE = 1024


class ChunkedUploads:
    """Bounded by the project limits (executor.max_project_size and max_project_files):
    the chunks never pass through one message, so gateway.max_message_size does not apply."""

    def __init__(self, max_project_size: int, max_project_files: int):
        self._max_size = max_project_size + max_project_files * ZIP_OVERHEAD_PER_FILE
        self._upload: Optional[Upload] = None

    def begin(self, payload: Any) -> Dict[str, Any]:
        body = protocol.get_payload(payload)
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ProtocolError("size must be a positive integer")
        if size > self._max_size:
            raise ProtocolError("the upload of %d bytes exceeds the limit of %d bytes "
                                "(executor.max_project_size and its ZIP overhead)"
                                % (size, self._max_size), error_codes.UPDATE_REJECTED)
        sha256 = protocol.get_str(body, "sha256").lower()
        if not _SHA256.match(sha256):
            raise ProtocolError("sha256 must be 64 hexadecimal digits")
        given_name = body.get("name")
        name = given_name if isinstance(given_name, str) else "project.zip"
        current = self._upload
        if current is None or (current.size, current.sha256) != (size, sha256):
            self._upload = current = Upload(size, sha256, name)
        return {"offset": current.received, "chunk_size": protocol.CHUNK_SIZE}

    def chunk(self, payload: Any) -> Dict[str, Any]:
        upload = self._require()
        body = protocol.get_payload(payload)
        offset = body.get("offset")
        if offset != upload.received:
            return protocol.error("offset %r is not the received byte count %d"
                                  % (offset, upload.received), {"received": upload.received},
                                  code=error_codes.UPLOAD_OUT_OF_ORDER)
        data = protocol.decode_base64(protocol.get_str(body, "data"), "data")
        if len(data) > protocol.CHUNK_SIZE:
            raise ProtocolError("a chunk holds at most %d bytes" % protocol.CHUNK_SIZE)
        if upload.received + len(data) > upload.size:
            raise ProtocolError("the chunk goes past the announced size of %d bytes" % upload.size)
        upload.data += data
        return protocol.success("chunk received", {"received": upload.received})

    def commit(self) -> Tuple[bytes, str]:
        """The verified bytes and name of the finished upload (which is then forgotten)."""
        upload = self._require()
        if upload.received != upload.size:
            raise ProtocolError("only %d of %d bytes were received" % (upload.received, upload.size))
        self._upload = None
        digest = hashlib.sha256(upload.data).hexdigest()
        if digest != upload.sha256:
            raise ProtocolError("sha256 mismatch: the received bytes hash to %s" % digest,
                                error_codes.UPLOAD_MISMATCH)
        return bytes(upload.data), upload.name

    def _require(self) -> Upload:
        if self._upload is None:
            raise ProtocolError("no upload in progress: send upload_begin first",
                                error_codes.NO_UPLOAD)
        return self._upload
