"""The project archive to deploy: a folder zipped deterministically, or a .zip as it is.

The same folder always gives the same bytes (sorted entries, fixed timestamps and modes), so
a deploy run again after an interruption has the same sha256 and the appliance resumes the
unfinished upload instead of starting over.
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Iterator, Tuple

from gateway.cli.errors import USAGE, CliError

# Never part of a project: bytecode caches and version-control folders.
SKIPPED_DIRS = frozenset(("__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"))
SKIPPED_SUFFIXES = (".pyc", ".pyo")
EPOCH = (1980, 1, 1, 0, 0, 0)     # the earliest time a zip entry can carry


def archive(path: str) -> Tuple[str, bytes]:
    """(project name, zip bytes) for a folder or a .zip file; CliError(USAGE) otherwise."""
    target = Path(path)
    if target.is_dir():
        return target.resolve().name, zip_folder(target)
    if target.is_file() and zipfile.is_zipfile(str(target)):
        return target.stem, target.read_bytes()
    if target.exists():
        raise CliError(USAGE, "%s is neither a folder nor a .zip file" % path)
    raise CliError(USAGE, "%s: no such file or folder" % path)


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_file:
        for name, file in project_files(folder):
            archive_file.writestr(_entry(name, file), file.read_bytes())
    return buffer.getvalue()


def project_files(folder: Path) -> Iterator[Tuple[str, Path]]:
    """(archive name, path) of every file to ship, in a stable order."""
    for root, dirs, files in os.walk(str(folder)):
        # Sorting in place also fixes the order os.walk descends in.
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if not name.endswith(SKIPPED_SUFFIXES):
                file = Path(root, name)
                yield file.relative_to(folder).as_posix(), file


def _entry(name: str, file: Path) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    executable = os.stat(str(file)).st_mode & stat.S_IXUSR
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.create_system = 3     # unix, whatever machine zipped it, so the bytes match
    return info
