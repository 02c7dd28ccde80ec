"""The timeout of a poll that has several optional deadlines."""
from __future__ import annotations

from typing import Optional


def earliest(*seconds: Optional[float]) -> Optional[float]:
    """The smallest of the given timeouts; None (wait forever) when none is set."""
    present = [s for s in seconds if s is not None]
    return min(present) if present else None
