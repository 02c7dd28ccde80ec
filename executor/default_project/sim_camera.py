"""The default project's simulated camera: a small top-down view of the robot, as PNG.

Pure Python with zlib: a palette PNG (one byte per pixel) whose rows are built with bytearray
slices, so a 160x120 frame costs about a millisecond. The view follows the robot: a grid of
0.5 m squares moves under it, the origin is a cross, its recent path a trail of dots.
"""
from __future__ import annotations

import logging
import math
import struct
import threading
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

_log = logging.getLogger(__name__)

WIDTH, HEIGHT = 160, 120
SCALE = 40.0                 # pixels per metre
GRID_M = 0.5
TRAIL = 60                   # positions kept for the trail
PALETTE = bytes.fromhex(
    "1e2530"    # 0 background
    "34404f"    # 1 grid
    "e0b040"    # 2 origin
    "5a7fa0"    # 3 trail
    "4aa3ff"    # 4 robot standing
    "4cd37a"    # 5 robot walking
    "9aa4b0"    # 6 robot lying or sitting
    "ff5c5c")   # 7 robot limp
BACKGROUND, GRID, ORIGIN, TRAIL_DOT = 0, 1, 2, 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png(width: int, height: int, palette: bytes, rows: List[bytearray]) -> bytes:
    """An 8-bit palette PNG of ``rows`` (one palette index per pixel)."""
    raw = b"".join(b"\x00" + bytes(row) for row in rows)     # filter type 0 on every row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"PLTE", palette)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def robot_colour(state: Dict[str, Any]) -> int:
    if state.get("posture") == "damp":
        return 7
    if state.get("moving"):
        return 5
    return 4 if state.get("posture") in ("standing", "balance_stand") else 6


def render(state: Dict[str, Any], trail: List[Tuple[float, float]] = ()) -> bytes:  # type: ignore[assignment]
    """The view centred on the robot of ``state`` (``GetState()``), heading drawn as a triangle."""
    x, y, yaw = state["pose"]["x"], state["pose"]["y"], state["pose"]["yaw"]
    cx, cy = WIDTH // 2, HEIGHT // 2

    def to_px(wx: float, wy: float) -> Tuple[int, int]:
        return int(round(cx + (wx - x) * SCALE)), int(round(cy - (wy - y) * SCALE))
    columns = _grid_lines(x, cx, 1, WIDTH)
    lines = set(_grid_lines(y, cy, -1, HEIGHT))
    plain = bytearray(BACKGROUND for _ in range(WIDTH))
    for column in columns:
        plain[column] = GRID
    rows = [bytearray([GRID]) * WIDTH if r in lines else bytearray(plain) for r in range(HEIGHT)]
    for wx, wy in trail:
        _dot(rows, to_px(wx, wy), TRAIL_DOT, 0)
    ox, oy = to_px(0.0, 0.0)
    for d in range(-4, 5):
        _dot(rows, (ox + d, oy), ORIGIN, 0)
        _dot(rows, (ox, oy + d), ORIGIN, 0)
    _triangle(rows, cx, cy, yaw, robot_colour(state))
    return png(WIDTH, HEIGHT, PALETTE, rows)


def _grid_lines(origin: float, centre: int, sign: int, size: int) -> List[int]:
    """Pixel positions of the grid lines along one axis, for a view centred at ``origin`` m."""
    first = math.floor((origin - centre / SCALE) / GRID_M)
    last = math.ceil((origin + centre / SCALE) / GRID_M)
    found = []
    for k in range(first, last + 1):
        pixel = int(round(centre + sign * (k * GRID_M - origin) * SCALE))
        if 0 <= pixel < size:
            found.append(pixel)
    return found


def _dot(rows: List[bytearray], at: Tuple[int, int], colour: int, radius: int) -> None:
    px, py = at
    for r in range(py - radius, py + radius + 1):
        if 0 <= r < HEIGHT:
            for c in range(px - radius, px + radius + 1):
                if 0 <= c < WIDTH:
                    rows[r][c] = colour


def _triangle(rows: List[bytearray], cx: int, cy: int, yaw: float, colour: int) -> None:
    """The robot: a triangle pointing along ``yaw`` (counter-clockwise from the image's +x)."""
    corners = [(cx + 11 * math.cos(yaw + a), cy - 11 * math.sin(yaw + a))
               for a in (0.0, 2.5, -2.5)]
    (ax, ay), (bx, by), (qx, qy) = corners

    def side(px: float, py: float, ux: float, uy: float, vx: float, vy: float) -> float:
        return (vx - ux) * (py - uy) - (vy - uy) * (px - ux)
    for r in range(cy - 12, cy + 13):
        for c in range(cx - 12, cx + 13):
            s1 = side(c, r, ax, ay, bx, by)
            s2 = side(c, r, bx, by, qx, qy)
            s3 = side(c, r, qx, qy, ax, ay)
            if (s1 >= 0 and s2 >= 0 and s3 >= 0) or (s1 <= 0 and s2 <= 0 and s3 <= 0):
                rows[r][c] = colour


class Camera:
    """Pushes a frame of ``state()`` every 1/fps s while on, from a thread of its own.

    A frame is rendered only when the state it shows changed; a still robot costs a push of
    the same bytes. ``push(data)`` is called with ``{png, seq, time, width, height}``.
    """

    def __init__(self, state: Callable[[], Dict[str, Any]], push: Callable[[Any], None]):
        self._state = state
        self._push = push
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._halt: Optional[threading.Event] = None
        self._trail: List[Tuple[float, float]] = []
        self._last: Tuple[Any, bytes] = (None, b"")
        self.fps = 0.0

    @property
    def on(self) -> bool:
        return self._thread is not None

    def start(self, fps: float) -> None:
        with self._lock:
            self.fps = fps
            if self._thread is None or not self._thread.is_alive():
                self._halt = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._halt,),
                                                name="camera", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 0.5) -> None:
        with self._lock:
            thread, halt, self._thread, self._halt = self._thread, self._halt, None, None
        if halt is not None:
            halt.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def snapshot(self) -> bytes:
        """The current view as PNG bytes."""
        state = self._state()
        self._remember(state)
        key = repr((state["pose"], robot_colour(state), self._trail[-1:]))
        if self._last[0] != key:
            self._last = (key, render(state, self._trail))
        return self._last[1]

    def _remember(self, state: Dict[str, Any]) -> None:
        point = (state["pose"]["x"], state["pose"]["y"])
        if not self._trail or math.hypot(point[0] - self._trail[-1][0],
                                         point[1] - self._trail[-1][1]) > 0.05:
            self._trail = (self._trail + [point])[-TRAIL:]

    def _run(self, halt: threading.Event) -> None:
        seq = 0
        deadline = time.monotonic()
        while True:
            seq += 1
            try:
                self._push({"png": self.snapshot(), "seq": seq, "time": round(time.time(), 3),
                            "width": WIDTH, "height": HEIGHT})
            except Exception:  # a broken push must not go unnoticed; StartCamera restarts us
                _log.exception("pushing a camera frame failed; the camera stops")
                return
            # Deadlines keep the rate; after a stall, no burst.
            deadline = max(deadline + 1.0 / self.fps, time.monotonic())
            if halt.wait(max(0.0, deadline - time.monotonic())):
                return
