"""Validate and extract an uploaded robot project ZIP.

This module knows nothing about where projects live: it turns untrusted bytes into a
directory tree, or refuses with an ArchiveError whose message is meant for the user.
Everything is validated from the central directory before the first byte is written,
and the byte stream is metered again while copying because declared sizes can lie.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import re
import shutil
import stat
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, FrozenSet, Iterator, List, Set, Tuple

from shared.fsutil import fsync_path

log = logging.getLogger(__name__)

MAIN_FILE = "main.py"
DEFAULT_PROJECT_NAME = "project"

_BLOCK_SIZE = 64 * 1024
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_MACOS_JUNK_DIR = "__MACOSX"
_MACOS_JUNK_FILE = ".DS_Store"
_ENCRYPTED_FLAG = 0x1
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")

# Errors zipfile/zlib raise for damaged data (bad CRC, truncated streams, bad headers).
_CORRUPT_DATA_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error)


class ArchiveError(Exception):
    """The upload is not an acceptable project archive; str(e) tells the user why."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_size: int  # bytes, total uncompressed
    max_files: int  # number of file entries


@dataclass(frozen=True)
class _Entry:
    """One archive member that will be extracted, with its validated path components."""

    info: zipfile.ZipInfo
    parts: Tuple[str, ...]
    is_dir: bool


def extract_project(zip_bytes: bytes, dest: Path, limits: ArchiveLimits) -> str:
    """Extract into dest (must not exist yet; created). Returns the project name:
    the single top folder's name if the archive was zipped as a folder, else "project".
    On any error raises ArchiveError and leaves nothing at dest (a dest that already
    existed is reported as an error too, and left alone).

    An ArchiveError caused by a failed write is chained (``raise ... from``) to the
    OSError, so a caller can tell "disk full" from a bad upload via ``__cause__``.
    """
    archive = _open_archive(zip_bytes)
    with archive:
        entries = _plan_entries(archive)
        _check_declared_limits(entries, limits)
        name, entries = _strip_single_top_folder(entries)
        _require_main_file(entries)
        with _write_errors_reported(str(dest)):
            dest.mkdir(parents=True)
        try:
            _write_entries(archive, entries, dest, limits.max_total_size)
        except BaseException:
            shutil.rmtree(str(dest), ignore_errors=True)
            raise
    log.info("extracted project %r (%d entries) into %s", name, len(entries), dest)
    return name


def _open_archive(zip_bytes: bytes) -> zipfile.ZipFile:
    if not zip_bytes:
        raise ArchiveError("not a zip archive (the upload is empty)")
    try:
        return zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise ArchiveError("not a zip archive (%s)" % exc) from exc
    except NotImplementedError as exc:  # a "version needed" newer than zipfile reads (or damaged)
        raise ArchiveError("not a zip archive this robot can read (%s)" % exc) from exc


# --- validation of the central directory -------------------------------------------


def _plan_entries(archive: zipfile.ZipFile) -> List[_Entry]:
    """Validate every member and return those to extract (macOS junk dropped)."""
    entries = []
    for info in archive.infolist():
        parts = _safe_parts(info)
        if _is_macos_junk(parts):
            continue
        is_dir = _check_member_type(info)
        if not parts:
            continue  # a "./" entry: the root itself, nothing to create
        _check_readable(info)
        entries.append(_Entry(info, parts, is_dir))
    if not any(not entry.is_dir for entry in entries):
        raise ArchiveError("the archive holds no files")
    _check_path_conflicts(entries)
    return entries


def _safe_parts(info: zipfile.ZipInfo) -> Tuple[str, ...]:
    """Split a member name into path components, refusing anything that could escape."""
    # zipfile cuts names at a NUL; orig_filename keeps what the archive really says.
    raw = info.orig_filename
    shown = raw.replace("\0", "\\0")
    if "\0" in raw:
        raise ArchiveError("entry '%s' has a NUL character in its name" % shown)
    if raw.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(raw):
        raise ArchiveError("entry '%s' has an absolute path" % shown)
    if "\\" in raw:
        raise ArchiveError("entry '%s' uses a backslash as path separator" % shown)
    parts = tuple(part for part in raw.split("/") if part not in ("", "."))
    if ".." in parts:
        raise ArchiveError("entry '%s' escapes the project directory" % shown)
    return parts


def _is_macos_junk(parts: Tuple[str, ...]) -> bool:
    if not parts:
        return False
    return parts[0] == _MACOS_JUNK_DIR or parts[-1] == _MACOS_JUNK_FILE


def _check_member_type(info: zipfile.ZipInfo) -> bool:
    """Return whether the member is a directory; refuse symlinks and special files."""
    mode = info.external_attr >> 16
    file_type = stat.S_IFMT(mode)
    if file_type == stat.S_IFLNK:
        raise ArchiveError("entry '%s' is a symbolic link; links are not allowed" % info.filename)
    # Zips made off Unix carry no file type (0); that means a regular file or a dir.
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError("entry '%s' is a special file; only regular files are allowed"
                           % info.filename)
    return info.filename.endswith("/") or file_type == stat.S_IFDIR


def _check_readable(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise ArchiveError("encrypted archives are not supported")
    if info.compress_type not in _supported_compression():
        raise ArchiveError("entry '%s' uses an unsupported compression method (%d)"
                           % (info.filename, info.compress_type))


def _supported_compression() -> FrozenSet[int]:
    methods = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
    # bz2 and lzma are optional builds of CPython; zipfile needs them to read those methods.
    for method, module in ((zipfile.ZIP_BZIP2, "bz2"), (zipfile.ZIP_LZMA, "lzma")):
        try:
            __import__(module)
        except ImportError:
            continue
        methods.add(method)
    return frozenset(methods)


def _check_path_conflicts(entries: List[_Entry]) -> None:
    """Refuse duplicate files and paths that are both a file and a directory."""
    files: Set[Tuple[str, ...]] = set()
    dirs: Set[Tuple[str, ...]] = set()
    for entry in entries:
        parents = {entry.parts[:depth] for depth in range(1, len(entry.parts))}
        dirs.update(parents)
        if entry.is_dir:
            dirs.add(entry.parts)
        elif entry.parts in files:
            raise ArchiveError("entry '%s' appears more than once" % "/".join(entry.parts))
        else:
            files.add(entry.parts)
    clash = files & dirs
    if clash:
        path = "/".join(sorted(clash)[0])
        raise ArchiveError("'%s' is both a file and a directory in the archive" % path)


def _check_declared_limits(entries: List[_Entry], limits: ArchiveLimits) -> None:
    file_entries = [entry for entry in entries if not entry.is_dir]
    if len(file_entries) > limits.max_files:
        raise ArchiveError("archive holds %d files; the limit is %d"
                           % (len(file_entries), limits.max_files))
    declared = sum(entry.info.file_size for entry in file_entries)
    if declared > limits.max_total_size:
        raise ArchiveError("uncompressed size %s exceeds the limit of %s"
                           % _format_sizes(declared, limits.max_total_size))


def _format_sizes(size: int, limit: int) -> Tuple[str, str]:
    """Human sizes for a limit message, exact bytes when rounding would make them equal."""
    shown = (_format_size(size), _format_size(limit))
    if shown[0] == shown[1]:
        return ("%d bytes" % size, "%d bytes" % limit)
    return shown


def _format_size(size: int) -> str:
    if size < 1024:
        return "%d bytes" % size
    value, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        value, unit = value / 1024, bigger
        if value < 1024:
            break
    return "%s %s" % (("%.1f" % value).rstrip("0").rstrip("."), unit)


# --- layout of the project -------------------------------------------------------------


def _strip_single_top_folder(entries: List[_Entry]) -> Tuple[str, List[_Entry]]:
    """Undo "zipped as a folder": if everything lies under one directory, drop it."""
    tops = {entry.parts[0] for entry in entries}
    root_files = [entry for entry in entries if len(entry.parts) == 1 and not entry.is_dir]
    if len(tops) != 1 or root_files:
        return DEFAULT_PROJECT_NAME, entries
    top = tops.pop()
    stripped = [_Entry(entry.info, entry.parts[1:], entry.is_dir)
                for entry in entries if len(entry.parts) > 1]
    return top, stripped


def _require_main_file(entries: List[_Entry]) -> None:
    for entry in entries:
        if entry.parts == (MAIN_FILE,) and not entry.is_dir:
            return
    raise ArchiveError("no %s at the top of the archive" % MAIN_FILE)


# --- writing -----------------------------------------------------------------------------


class _ByteBudget:
    """Counts bytes actually decompressed, across all files of one archive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise ArchiveError("uncompressed size exceeds the limit of %s (the archive "
                               "declares smaller sizes than it holds)" % _format_size(self.limit))


def _write_entries(archive: zipfile.ZipFile, entries: List[_Entry], dest: Path,
                   max_total_size: int) -> None:
    os.chmod(str(dest), _DIR_MODE)
    directories = _create_directories(entries, dest)
    budget = _ByteBudget(max_total_size)
    for entry in entries:
        if not entry.is_dir:
            _extract_file(archive, entry, dest, budget)
    # Deepest first, so each directory's entries are durable before its parent's.
    for directory in sorted(directories, key=lambda path: len(path.parts), reverse=True):
        with _write_errors_reported("/".join(directory.relative_to(dest).parts)):
            fsync_path(directory)
    with _write_errors_reported(str(dest)):
        fsync_path(dest)


def _create_directories(entries: List[_Entry], dest: Path) -> List[Path]:
    wanted: Set[Tuple[str, ...]] = set()
    for entry in entries:
        depth = len(entry.parts) if entry.is_dir else len(entry.parts) - 1
        wanted.update(entry.parts[:level] for level in range(1, depth + 1))
    created = []
    for parts in sorted(wanted, key=len):
        path = dest.joinpath(*parts)
        with _write_errors_reported("/".join(parts)):
            _make_directory(path)
        created.append(path)
    return created


def _make_directory(path: Path) -> None:
    os.mkdir(str(path))
    os.chmod(str(path), _DIR_MODE)  # mkdir's mode is filtered by the umask


def _extract_file(archive: zipfile.ZipFile, entry: _Entry, dest: Path,
                  budget: _ByteBudget) -> None:
    shown = "/".join(entry.parts)
    try:
        with archive.open(entry.info) as source:
            with _write_errors_reported(shown):
                _write_file(dest.joinpath(*entry.parts), source, budget)
    except _CORRUPT_DATA_ERRORS as exc:
        raise ArchiveError("entry '%s' is damaged (%s)" % (shown, exc)) from exc
    except NotImplementedError as exc:  # e.g. a local header flag zipfile cannot handle
        raise ArchiveError("entry '%s' cannot be read: %s" % (shown, exc)) from exc


def _write_file(path: Path, source: IO[bytes], budget: _ByteBudget) -> None:
    # O_EXCL|O_NOFOLLOW: never write through something that already exists at the path.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(str(path), flags, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)  # the umask may have filtered the create mode
        _copy_metered(source, fd, budget)
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_metered(source: IO[bytes], fd: int, budget: _ByteBudget) -> None:
    """Copy in blocks, charging each block to the budget before it reaches the disk."""
    while True:
        block = source.read(_BLOCK_SIZE)
        if not block:
            return
        budget.spend(len(block))
        view = memoryview(block)
        while view:
            written = os.write(fd, view)
            view = view[written:]


@contextmanager
def _write_errors_reported(shown: str) -> Iterator[None]:
    """Turn an OSError (disk full, read-only fs, ...) into an ArchiveError naming the entry."""
    try:
        yield
    except OSError as exc:
        raise ArchiveError(_describe_write_error(exc, shown)) from exc


def _describe_write_error(exc: OSError, shown: str) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full while writing '%s'" % shown
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return "could not write '%s': %s" % (shown, reason)
