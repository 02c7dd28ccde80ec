"""SHA-256 without loading OpenSSL.

``import hashlib`` maps OpenSSL's libcrypto into the process: ~3.5 MiB of RSS, a seventh of
the executor's budget on a robot. The interpreter's own ``_sha256`` (``_sha2`` from Python
3.12 on) computes the same digests; hashlib is the fallback where neither exists.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:   # typeshed has no stubs for _sha256/_sha2: mypy sees hashlib's (same API)
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256
    except ImportError:  # pragma: no cover - Python 3.12+
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256

__all__ = ["sha256"]
