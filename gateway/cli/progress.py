"""Upload progress on stderr: a redrawn bar on a terminal, plain percentage lines otherwise.

Progress is the bytes the appliance acknowledged, never the bytes merely sent.
"""
from __future__ import annotations

import sys
from typing import Optional, TextIO

BAR_WIDTH = 30
LINE_STEP = 10      # percent between two lines when stderr is not a terminal


class Progress:
    def __init__(self, total: int, stream: Optional[TextIO] = None, label: str = "upload"):
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.label = label
        self.tty = self.stream.isatty()
        self._last_line: Optional[int] = None
        self._drawn = False      # a bar is on the terminal's current line

    def update(self, done: int) -> None:
        percent = min(100, done * 100 // self.total)
        if self.tty:
            filled = BAR_WIDTH * percent // 100
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write("\r%s [%s] %3d%% %s" % (self.label, bar, percent, size(done)))
            self.stream.flush()
            self._drawn = True
        elif self._last_line is None or percent >= self._last_line + LINE_STEP or (
                percent == 100 and self._last_line != 100):
            self._last_line = percent
            print("%s %d%% (%s of %s)" % (self.label, percent, size(done), size(self.total)),
                  file=self.stream, flush=True)

    def note(self, message: str) -> None:
        """A line of information (resuming, reconnecting) that does not garble the bar."""
        self.finish()
        print("robotctl: %s" % message, file=self.stream, flush=True)

    def finish(self) -> None:
        """End the bar's line, so that what follows starts on a fresh line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def size(count: int) -> str:
    if count < 1024:
        return "%d B" % count
    if count < 1024 * 1024:
        return "%.1f KiB" % (count / 1024)
    return "%.1f MiB" % (count / (1024 * 1024))
