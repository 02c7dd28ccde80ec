"""The project store's one error type, and how failures below it become that error.

A full or read-only disk is the robot's problem, not the upload's: OSErrors (also those
that made an extraction fail) become a StoreError whose text says so, and an unusable
release manifest becomes one too, so callers of the store handle a single exception type.
"""
from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from executor.release_manifest import ManifestError, ProjectInfo, read_info
from executor.zip_archive import ArchiveError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


class StoreError(Exception):
    """str(e) is a message for the user."""


def release_info(release: Path) -> ProjectInfo:
    """The release's ProjectInfo from its manifest; StoreError if the manifest is unusable."""
    try:
        return read_info(release)
    except ManifestError as exc:
        raise StoreError(str(exc)) from exc


@contextmanager
def os_errors_reported(doing: str) -> Iterator[None]:
    """Turn OSErrors into StoreErrors, including ArchiveErrors that a failed write caused:
    a full or read-only disk is the robot's problem, not the upload's."""
    try:
        yield
    except (ArchiveError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc, ArchiveError) else exc
        if not isinstance(cause, OSError):
            raise
        if cause.errno in DISK_FULL_ERRNOS:
            raise StoreError("disk full while %s: %s" % (doing, cause.strerror)) from exc
        raise StoreError("error while %s: %s" % (doing, exc)) from exc
