"""The receiving end of systemd's notify protocol, for ``make run``'s supervisor: a datagram
socket whose path goes to the children as NOTIFY_SOCKET. The kernel stamps each datagram
with the sender's PID (SO_PASSCRED), so the supervisor knows which child pinged, as systemd
does."""
from __future__ import annotations

import socket
import struct
from typing import Dict, Iterator, Tuple

from shared.fsutil import remove_quietly

_CREDENTIALS = struct.Struct("iII")     # struct ucred: pid, uid, gid


class NotifyListener:
    def __init__(self, path: str):
        self.path = path
        remove_quietly(path)      # a socket left by a supervisor that was killed
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.socket.bind(path)

    def fileno(self) -> int:
        return self.socket.fileno()

    def receive(self) -> Iterator[Tuple[int, Dict[str, str]]]:
        """Every waiting message as (sender pid, {"READY": "1", "WATCHDOG": "1", ...})."""
        while True:
            try:
                data, ancillary, _, _ = self.socket.recvmsg(4096, socket.CMSG_SPACE(_CREDENTIALS.size))
            except BlockingIOError:
                return
            pid = 0
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _CREDENTIALS.unpack(value[:_CREDENTIALS.size])[0]
            fields = dict(line.split("=", 1) for line in data.decode("utf-8", "replace").split("\n")
                          if "=" in line)
            yield pid, fields

    def close(self) -> None:
        self.socket.close()
        remove_quietly(self.path)
