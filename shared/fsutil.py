"""Filesystem helpers: durable writes, atomic replacement, removal that tolerates absence.

A reader never sees half a file: ``write_atomically`` writes a temporary file beside the
target and renames it over. ``durable=True`` also fsyncs the file and its directory, for
records that must survive a power cut (project releases and environments); runtime records
in /run need no fsync.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Union

PathLike = Union[str, Path]


def fsync_path(path: PathLike) -> None:
    """fsync a file or a directory (a directory's fsync makes its entries durable)."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: PathLike, text: str, mode: int = 0o644, durable: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one rename, with permissions ``mode``."""
    target = str(path)
    directory = os.path.dirname(target) or "."
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        remove_path(temp)
        raise
    if durable:
        fsync_path(directory)


def remove_path(path: PathLike) -> None:
    """Remove a file, link or directory tree; nothing there is fine."""
    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(str(target))
    elif target.is_symlink() or target.exists():
        target.unlink()


def remove_quietly(path: PathLike) -> None:
    """Remove a file if it is there; an error (gone meanwhile, no permission) is ignored."""
    try:
        os.unlink(str(path))
    except OSError:
        pass
