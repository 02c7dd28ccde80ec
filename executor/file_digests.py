"""SHA-256 of many files: fast for a large release, without keeping OpenSSL in the executor.

The executor avoids ``hashlib`` because OpenSSL's libcrypto adds ~3.5 MiB of RSS for good
(see shared/digest.py), but the interpreter's own SHA-256 runs at ~130 MiB/s against
~900 MiB/s for OpenSSL's: seconds for a large release, at every start that must verify one.
So a large set of files is hashed by a short-lived child interpreter that uses hashlib; its
memory goes away with it. A small set is hashed in-process, where spawning (~20 ms) would
cost more than it saves.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional, Sequence

from shared.digest import sha256

log = logging.getLogger(__name__)

# Below this many bytes in all, the in-process hash is done before a child would be up.
CHILD_ABOVE = 8 * 1024 * 1024
_BLOCK = 1024 * 1024

# The child: NUL-separated paths on stdin, one hex digest per line on stdout, in order.
# -I -S: no site, no user paths; it imports nothing but hashlib.
_CHILD = r"""
import hashlib, sys
buf = bytearray(1 << 20)
view = memoryview(buf)
out = []
for path in sys.stdin.buffer.read().split(b"\0")[:-1]:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as stream:
        for size in iter(lambda: stream.readinto(buf), 0):
            digest.update(view[:size])
    out.append(digest.hexdigest())
sys.stdout.write("\n".join(out))
"""


def sha256_files(paths: Sequence[str], total_bytes: int) -> List[str]:
    """The hex SHA-256 of each file in ``paths``, in order. OSError if one cannot be read.

    ``total_bytes`` (their size together) picks the way: a child with OpenSSL above
    CHILD_ABOVE, else in-process. Should the child fail, the files are hashed in-process,
    so a broken hashlib on a robot costs speed, never correctness.
    """
    if total_bytes > CHILD_ABOVE and paths:
        digests = _in_child(paths)
        if digests is not None:
            return digests
    return [_in_process(path) for path in paths]


def _in_child(paths: Sequence[str]) -> Optional[List[str]]:
    import subprocess     # only where a large release is verified: keeps idle RSS down
    stdin = b"".join(os.fsencode(path) + b"\0" for path in paths)
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD], input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as e:
        log.warning("could not start the hashing helper (%s); hashing in-process", e)
        return None
    digests = done.stdout.decode("ascii", "replace").split("\n") if done.stdout else []
    if done.returncode != 0 or len(digests) != len(paths):
        log.warning("the hashing helper failed (%s); hashing in-process",
                    done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                    or "exit status %d" % done.returncode)
        return None
    return digests


def _in_process(path: str) -> str:
    digest = sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
