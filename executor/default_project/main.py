"""A simulated Unitree-style legged robot: robotctl's bundled default project.

``sport_client`` mimics the Unitree SDK's SportClient: posture commands, walking with
``Move``, body attitude with ``Euler``, speed levels and a draining battery. While the robot
walks it pushes a ``robot_state`` event (``GetState()`` plus a ``seq`` number) at 10 Hz.
``StartCamera`` streams a simulated top-down camera as PNG frames in ``camera`` events until
``StopCamera`` or the controlling client leaves. Both are latest-value events.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Dict, Optional, Tuple

import sim_camera

# The appliance injects push_message(event, data) before and after this module runs, so it
# is looked up as a global at call time and never captured.
push_message = None

_log = logging.getLogger(__name__)

PUSH_PERIOD_S = 0.1                      # robot_state at 10 Hz while walking
CAMERA_FPS, CAMERA_FPS_MAX = 10, 30
VX_MAX = 1.5                             # m/s forward/backward at speed level 0
SPEED_FACTORS = {-1: 0.5, 0: 1.0, 1: 1.5}  # scales VX_MAX: slow, normal, fast
VY_MAX = 0.6                             # m/s sideways (positive = left)
VYAW_MAX = 2.0                           # rad/s turning (positive = counter-clockwise)
EULER_MAX = (0.75, 0.75, 0.6)            # rad: roll, pitch, yaw of the standing body
# Battery drain in percent per second: electronics only, holding a posture, walking.
DRAIN_IDLE, DRAIN_HOLDING, DRAIN_WALKING = 0.005, 0.02, 0.04

STANDING = ("standing", "balance_stand")
# command: (posture it reaches, postures it may start from, seconds it takes)
_TRANSITIONS = {
    "StandUp": ("standing", ("lying", "sitting", "damp", "balance_stand"), 0.4),
    "StandDown": ("lying", ("standing", "balance_stand", "sitting"), 0.3),
    "BalanceStand": ("balance_stand", ("standing",), 0.15),
    "RecoveryStand": ("balance_stand", ("lying", "sitting", "damp", "standing"), 0.6),
    "Sit": ("sitting", ("standing", "balance_stand"), 0.4),
}
_DESCRIPTION = {"lying": "lying down", "sitting": "sitting", "damp": "limp (damped)"}

_Vector = Tuple[float, float, float]
_ZERO: _Vector = (0.0, 0.0, 0.0)


def _number(name: str, value: Any) -> float:
    """Return ``value`` as a float; raise ValueError unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("%s must be a finite number, got %r" % (name, value))
    return float(value)


def _clamp(values: _Vector, limits: _Vector) -> _Vector:
    return tuple(max(-limit, min(limit, v)) for v, limit in zip(values, limits))  # type: ignore


def _named(keys: str, values: _Vector) -> Dict[str, float]:
    """("vx vy vyaw", (1, 2, 3)) -> {"vx": 1, ...}, rounded for display."""
    return {key: round(value, 4) for key, value in zip(keys.split(), values)}


def _push(event: str, data: Any) -> None:
    """Push a latest-value event: a client that cannot keep up needs only the newest."""
    sender = push_message  # None until the appliance injects it: then skip silently
    if sender is not None:
        sender(event, data, latest=True)


def _join(thread: Optional[threading.Thread], timeout: float) -> None:
    # The pusher itself may end motion (battery empty); a thread cannot join itself.
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


class SportClient:
    """Simulated Unitree SportClient: postures, walking, body attitude and battery."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posture = "lying"
        self._transition: Optional[str] = None      # target of the posture motion in progress
        self._abort: Optional[threading.Event] = None  # set to interrupt that motion
        self._pose: _Vector = _ZERO                    # x, y (m), yaw (rad) in the odometry frame
        self._velocity: _Vector = _ZERO                # vx, vy (m/s), vyaw (rad/s) in the body frame
        self._euler: _Vector = _ZERO
        self._speed_level = 0
        self._battery = 100.0
        self._error: Optional[str] = None
        self._seq = 0
        self._pusher: Optional[threading.Thread] = None
        self._pusher_halt: Optional[threading.Event] = None
        self._last = time.monotonic()
        self._camera = sim_camera.Camera(self.GetState, lambda frame: _push("camera", frame))

    # -- posture ------------------------------------------------------------------------

    def StandUp(self) -> Dict[str, Any]:
        """Stand up with locked joints (0.4 s); returns {"posture": "standing"}."""
        return self._change_posture("StandUp")

    def StandDown(self) -> Dict[str, Any]:
        """Lie down from standing or sitting (0.3 s); returns {"posture": "lying"}."""
        return self._change_posture("StandDown")

    def BalanceStand(self) -> Dict[str, Any]:
        """Switch from standing to balance stand (0.15 s); returns {"posture": "balance_stand"}."""
        return self._change_posture("BalanceStand")

    def RecoveryStand(self) -> Dict[str, Any]:
        """Get up from any posture, even limp, into balance stand (0.6 s)."""
        return self._change_posture("RecoveryStand")

    def Sit(self) -> Dict[str, Any]:
        """Sit down from standing (0.4 s); returns {"posture": "sitting"}."""
        return self._change_posture("Sit")

    def Damp(self) -> Dict[str, Any]:
        """Go limp at once, stopping all motion; returns {"posture": "damp"}."""
        with self._lock:
            self._advance()
            pusher = self._go_limp()
        _join(pusher, 0.5)
        return {"posture": "damp"}

    # -- motion -------------------------------------------------------------------------

    def Move(self, vx: float, vy: float, vyaw: float) -> Dict[str, Any]:
        """Walk at vx, vy (m/s) turning at vyaw (rad/s), clamped; needs a standing posture.

        Returns {"moving", "velocity", "clamped"}; all zeros stops walking.
        """
        wanted = (_number("vx", vx), _number("vy", vy), _number("vyaw", vyaw))
        pusher = None
        with self._lock:
            self._advance()
            self._require_standing("Move")
            velocity = _clamp(wanted, (self._vx_max(), VY_MAX, VYAW_MAX))
            if any(velocity):
                self._velocity = velocity
                self._start_pusher()
            else:
                pusher = self._halt()
            result = {"moving": any(velocity), "velocity": _named("vx vy vyaw", self._velocity),
                      "clamped": velocity != wanted}
        _join(pusher, 0.5)
        return result

    def StopMove(self) -> Dict[str, Any]:
        """Stop walking and any posture motion at once and level the body; keeps the posture."""
        with self._lock:
            self._advance()
            pusher = self._halt()
            self._euler = _ZERO
            result = {"posture": self._posture, "moving": False,
                      "velocity": _named("vx vy vyaw", self._velocity)}
        _join(pusher, 0.5)
        return result

    def Euler(self, roll: float, pitch: float, yaw: float) -> Dict[str, Any]:
        """Tilt the standing body to roll, pitch, yaw (rad), clamped to ±0.75, ±0.75, ±0.6.

        Returns {"euler": {"roll", "pitch", "yaw"}, "clamped"}.
        """
        wanted = (_number("roll", roll), _number("pitch", pitch), _number("yaw", yaw))
        euler = _clamp(wanted, EULER_MAX)
        with self._lock:
            self._advance()
            self._require_standing("Euler")
            self._euler = euler
            return {"euler": _named("roll pitch yaw", euler), "clamped": euler != wanted}

    def SpeedLevel(self, level: int) -> Dict[str, Any]:
        """Set the walking speed range: -1 slow, 0 normal, 1 fast (vx limit 0.75/1.5/2.25 m/s).

        Returns {"speed_level", "vx_max", "velocity"}; a faster walk is slowed to the new limit.
        """
        if isinstance(level, bool) or not isinstance(level, int) or level not in SPEED_FACTORS:
            raise ValueError("level must be -1 (slow), 0 (normal) or 1 (fast), got %r" % (level,))
        with self._lock:
            self._advance()
            self._speed_level = level
            self._velocity = _clamp(self._velocity, (self._vx_max(), VY_MAX, VYAW_MAX))
            return {"speed_level": level, "vx_max": self._vx_max(),
                    "velocity": _named("vx vy vyaw", self._velocity)}

    def GetState(self) -> Dict[str, Any]:
        """Return the whole robot state as a dict.

        posture      "lying", "standing", "balance_stand", "sitting" or "damp" (limp)
        transition   the posture a posture motion in progress is heading for, else None
        moving       True while the commanded velocity is not zero
        pose         {"x", "y"} in m and {"yaw"} in rad: odometry since start-up
        velocity     {"vx", "vy"} in m/s and {"vyaw"} in rad/s: commanded, body frame
        euler        {"roll", "pitch", "yaw"} in rad: commanded body attitude
        speed_level  -1 slow, 0 normal, 1 fast
        battery      charge in percent, 0 to 100
        error        None, or why the robot refuses commands (e.g. "battery depleted")
        """
        with self._lock:
            self._advance()
            return self._snapshot()

    # -- camera -------------------------------------------------------------------------

    def StartCamera(self, fps: float = CAMERA_FPS) -> Dict[str, Any]:
        """Stream the simulated top-down camera: a 160x120 PNG in a ``camera`` event, fps times
        a second (1 to 30), until StopCamera or the client leaves. Returns {"camera", "fps"}."""
        rate = _number("fps", fps)
        if not 1 <= rate <= CAMERA_FPS_MAX:
            raise ValueError("fps must be between 1 and %d, got %r" % (CAMERA_FPS_MAX, fps))
        self._camera.start(rate)
        return {"camera": "on", "fps": rate}

    def StopCamera(self) -> Dict[str, Any]:
        """Stop the camera stream; returns {"camera": "off"}."""
        self._camera.stop()
        return {"camera": "off"}

    def Snapshot(self) -> bytes:
        """The camera's current view as PNG bytes (binary in the reply)."""
        return self._camera.snapshot()

    def stop(self) -> None:
        """Halt walking, posture motions, state pushes and the camera quickly; the posture
        stays as is."""
        with self._lock:
            self._advance()
            pusher = self._halt()
        # Called on client disconnect, which must not wait on a slow push.
        _join(pusher, 0.08)
        self._camera.stop(0.08)

    # -- internals (call with the lock held unless said otherwise) ------------------------

    def _change_posture(self, command: str) -> Dict[str, Any]:
        """Run a posture motion; lock not held. Raises RuntimeError if refused or interrupted."""
        target, sources, duration = _TRANSITIONS[command]
        with self._lock:
            self._advance()
            self._require_power(command)
            if self._transition is not None:
                raise RuntimeError("%s refused: the robot is already moving to %r"
                                   % (command, self._transition))
            if self._posture == target:
                return {"posture": target}
            if self._posture not in sources:
                raise RuntimeError("%s refused: not possible while %s"
                                   % (command, _DESCRIPTION.get(self._posture, self._posture)))
            pusher = self._halt()
            abort = self._abort = threading.Event()
            self._transition = target
        _join(pusher, 0.5)
        # Wait outside the lock, so that StopMove or Damp is served at once and interrupts.
        abort.wait(duration)
        with self._lock:
            self._advance()
            if abort.is_set():
                raise RuntimeError("%s interrupted; the posture is %r" % (command, self._posture))
            self._posture, self._transition, self._abort = target, None, None
            if target not in STANDING:
                self._euler = _ZERO
        return {"posture": target}

    def _require_power(self, command: str) -> None:
        if self._error is not None:
            raise RuntimeError("%s refused: %s" % (command, self._error))

    def _require_standing(self, command: str) -> None:
        self._require_power(command)
        if self._transition is not None:
            raise RuntimeError("%s refused: the robot is moving to %r; wait until it is done"
                               % (command, self._transition))
        if self._posture not in STANDING:
            raise RuntimeError("%s refused: the robot is %s; call StandUp first"
                               % (command, _DESCRIPTION.get(self._posture, self._posture)))

    def _halt(self) -> Optional[threading.Thread]:
        """Zero the velocity, interrupt any posture motion and signal the pusher to end.

        Returns the pusher thread, for the caller to join once it has released the lock.
        """
        self._velocity = _ZERO
        if self._abort is not None:
            self._abort.set()
        self._transition = self._abort = None
        if self._pusher_halt is not None:
            self._pusher_halt.set()
        pusher, self._pusher, self._pusher_halt = self._pusher, None, None
        return pusher

    def _go_limp(self) -> Optional[threading.Thread]:
        pusher = self._halt()
        self._posture, self._euler = "damp", _ZERO
        return pusher

    def _start_pusher(self) -> None:
        if self._pusher is not None and self._pusher.is_alive():
            return
        self._pusher_halt = threading.Event()
        self._pusher = threading.Thread(target=self._push_states, args=(self._pusher_halt,),
                                        name="robot_state pusher", daemon=True)
        self._pusher.start()

    def _push_states(self, halt: threading.Event) -> None:
        """Push robot_state every PUSH_PERIOD_S until halted; runs in the pusher thread."""
        deadline = time.monotonic()
        while True:
            # Deadlines keep the rate at 10 Hz despite the work; after a stall, no burst.
            deadline = max(deadline + PUSH_PERIOD_S, time.monotonic())
            if halt.wait(max(0.0, deadline - time.monotonic())):
                return
            with self._lock:
                self._advance()
                if halt.is_set():
                    return
                self._seq += 1
                state = self._snapshot()
                state["seq"] = self._seq
            try:
                _push("robot_state", state)
            except Exception:  # a broken push must not kill the walk; the next Move restarts us
                _log.exception("pushing robot_state failed; state pushes stop")
                return

    def _advance(self) -> None:
        """Integrate pose and battery over the real time elapsed since the last call."""
        now = time.monotonic()
        dt, self._last = now - self._last, now
        vx, vy, vyaw = self._velocity
        x, y, yaw = self._pose
        heading = yaw + vyaw * dt / 2  # midpoint heading follows arcs closely
        new_yaw = math.atan2(math.sin(yaw + vyaw * dt), math.cos(yaw + vyaw * dt))
        self._pose = (x + (vx * math.cos(heading) - vy * math.sin(heading)) * dt,
                      y + (vx * math.sin(heading) + vy * math.cos(heading)) * dt, new_yaw)
        self._battery = max(0.0, self._battery - self._drain() * dt)
        if self._battery == 0.0 and self._error is None:
            self._error = "battery depleted"
            self._go_limp()  # the pusher, if any, sees its halt event and ends by itself

    def _drain(self) -> float:
        if any(self._velocity):
            return DRAIN_WALKING
        if self._transition is None and self._posture in ("lying", "damp"):
            return DRAIN_IDLE
        return DRAIN_HOLDING

    def _vx_max(self) -> float:
        return VX_MAX * SPEED_FACTORS[self._speed_level]

    def _snapshot(self) -> Dict[str, Any]:
        return {
            "posture": self._posture,
            "transition": self._transition,
            "moving": any(self._velocity),
            "pose": _named("x y yaw", self._pose),
            "velocity": _named("vx vy vyaw", self._velocity),
            "euler": _named("roll pitch yaw", self._euler),
            "speed_level": self._speed_level,
            "battery": round(self._battery, 3),
            "error": self._error,
        }


sport_client = SportClient()
