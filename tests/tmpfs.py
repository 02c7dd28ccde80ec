"""A small tmpfs mounted for the length of a test, for a real ENOSPC or EROFS."""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

from tests import prerequisites


@contextlib.contextmanager
def mounted_tmpfs(mount_point: Path, options: str, *, lazy: bool = False) -> Iterator[Path]:
    """Create mount_point, mount a tmpfs with `options` (e.g. "size=1m", "ro,size=1m") on it,
    yield it, and always unmount it. Skips the test when not root or when mounting fails
    (under CI=true, as the other tiers' prerequisites, that is a failure instead).

    lazy: detach with `umount -l` and ignore a failure (for a tmpfs a stopped appliance may
    still hold open for a moment); otherwise a failed unmount is an error."""
    mount_point.mkdir()
    if os.geteuid() != 0:
        _cannot("needs root to mount a tmpfs (%s) for a real ENOSPC/EROFS (run as root)" % options)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        _cannot("cannot mount a tmpfs (%s) here: %s"
                % (options, result.stdout.decode(errors="replace")))
    try:
        yield mount_point
    finally:
        if lazy:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)
        else:
            subprocess.run(["umount", str(mount_point)], check=True)


def _cannot(reason: str) -> None:
    prerequisites.missing(reason)
