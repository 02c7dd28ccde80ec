"""The bundled default project: a simulated Unitree SportClient (executor/default_project)."""
from __future__ import annotations

import importlib.util
import json
import math
import struct
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

from shared import messages

MAIN = Path(__file__).resolve().parents[2] / "executor" / "default_project" / "main.py"
STATE_KEYS = {"posture", "transition", "moving", "pose", "velocity", "euler", "speed_level",
              "battery", "error"}


class Pushes:
    """A thread-safe stand-in for the appliance's push_message that records every event."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Any]] = []
        self.latest: List[bool] = []
        self.cond = threading.Condition()

    def __call__(self, event: str, data: Any, latest: bool = False) -> None:
        messages.Push(event, data, latest).to_frames()  # what the appliance will have to send
        with self.cond:
            self.events.append((event, data))
            self.latest.append(latest)
            self.cond.notify_all()

    def of(self, event: str) -> List[Any]:
        with self.cond:
            return [data for name, data in self.events if name == event]

    def wait_for_event(self, event: str, count: int, timeout: float = 5.0) -> List[Any]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.of(event)) >= count, timeout), self.events
            return self.of(event)

    def wait_for(self, count: int, timeout: float = 2.0) -> List[Tuple[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met within %.1f s" % timeout
        time.sleep(0.005)


def pusher_alive(name: str = "robot_state pusher") -> bool:
    return any(t.name == name and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
def project(pushes: Pushes, monkeypatch):
    """Load main.py the way the appliance does: push_message injected before and after, the
    project's folder first on sys.path."""
    monkeypatch.syspath_prepend(str(MAIN.parent))
    spec = importlib.util.spec_from_file_location("default_project_%s" % uuid.uuid4().hex, MAIN)
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    module.push_message = pushes
    spec.loader.exec_module(module)
    assert module.push_message is None  # the placeholder the project declares
    module.push_message = pushes
    yield module
    module.sport_client.stop()
    wait_until(lambda: not pusher_alive() and not pusher_alive("camera"))


@pytest.fixture
def robot(project):
    return project.sport_client


@pytest.fixture
def standing(project):
    """A standing robot whose posture motions take 10 ms, to keep the suite fast.

    The real durations are tested by test_stand_up_takes_time and the interrupt test.
    """
    for command, (target, sources, _) in list(project._TRANSITIONS.items()):
        project._TRANSITIONS[command] = (target, sources, 0.01)
    assert project.sport_client.StandUp() == {"posture": "standing"}
    return project.sport_client


def test_initial_state(robot) -> None:
    state = robot.GetState()
    assert set(state) == STATE_KEYS
    assert state["posture"] == "lying" and state["transition"] is None
    assert state["moving"] is False and state["error"] is None and state["speed_level"] == 0
    assert state["pose"] == {"x": 0.0, "y": 0.0, "yaw": 0.0}
    assert state["velocity"] == {"vx": 0.0, "vy": 0.0, "vyaw": 0.0}
    assert state["euler"] == {"roll": 0.0, "pitch": 0.0, "yaw": 0.0}
    assert 99.9 < state["battery"] <= 100.0


def test_only_the_instance_has_a_stop_hook(project) -> None:
    # A module-level stop() as well would make the appliance halt the robot twice.
    assert not hasattr(project, "stop")
    assert [name for name, value in vars(project).items()
            if not isinstance(value, type) and callable(getattr(value, "stop", None))] \
        == ["sport_client"]


def test_state_keys_are_documented(robot) -> None:
    doc = type(robot).GetState.__doc__
    assert all(key in doc for key in robot.GetState())


def test_move_refused_before_stand_up(robot, pushes) -> None:
    with pytest.raises(RuntimeError, match="Move refused: the robot is lying down; call StandUp"):
        robot.Move(vx=0.3, vy=0, vyaw=0)
    with pytest.raises(RuntimeError, match="Euler refused"):
        robot.Euler(0.1, 0, 0)
    assert robot.GetState()["moving"] is False and not pusher_alive() and not pushes.events


def test_stand_up_takes_time(robot) -> None:
    start = time.monotonic()
    robot.StandUp()
    assert 0.35 < time.monotonic() - start < 1.0
    assert robot.GetState()["posture"] == "standing"
    assert robot.StandUp() == {"posture": "standing"}  # already there: at once


def test_move_integrates_pose_forward(standing) -> None:
    result = standing.Move(vx=0.5, vy=0, vyaw=0)
    assert result == {"moving": True, "velocity": {"vx": 0.5, "vy": 0.0, "vyaw": 0.0},
                      "clamped": False}
    wait_until(lambda: standing.GetState()["pose"]["x"] > 0.05)
    pose = standing.GetState()["pose"]
    assert abs(pose["y"]) < 1e-6 and pose["yaw"] == 0.0


def test_move_sideways_and_turning(standing) -> None:
    standing.Move(*[0, 0.4, 1.0])  # positional args, as a list in `process` gives them
    wait_until(lambda: standing.GetState()["pose"]["yaw"] > 0.1)
    pose = standing.GetState()["pose"]
    assert pose["y"] > 0 and pose["x"] < 0  # sidestepping left while turning left drifts back


def test_move_clamps_to_limits(standing) -> None:
    result = standing.Move(vx=9, vy=-9, vyaw=9)
    assert result["velocity"] == {"vx": 1.5, "vy": -0.6, "vyaw": 2.0} and result["clamped"]
    assert standing.SpeedLevel(-1)["velocity"]["vx"] == 0.75  # slowing down cuts the walk
    assert standing.SpeedLevel(1)["vx_max"] == 2.25
    assert standing.Move(vx=-9, vy=0, vyaw=0)["velocity"]["vx"] == -2.25
    with pytest.raises(ValueError):
        standing.Move(vx=float("nan"), vy=0, vyaw=0)
    with pytest.raises(ValueError):
        standing.SpeedLevel(2)
    euler = standing.Euler(roll=1, pitch=-1, yaw=1)
    assert euler == {"euler": {"roll": 0.75, "pitch": -0.75, "yaw": 0.6}, "clamped": True}


def test_states_pushed_while_moving_until_stop_move(standing, pushes) -> None:
    standing.Move(vx=0.3, vy=0, vyaw=0)
    events = pushes.wait_for(3)
    assert {event for event, _ in events} == {"robot_state"}
    seqs = [data["seq"] for _, data in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert events[-1][1]["moving"] is True and set(events[-1][1]) == STATE_KEYS | {"seq"}

    assert standing.StopMove() == {"posture": "standing", "moving": False,
                                   "velocity": {"vx": 0.0, "vy": 0.0, "vyaw": 0.0}}
    wait_until(lambda: not pusher_alive())
    count = len(pushes.events)
    assert standing.GetState()["moving"] is False and len(pushes.events) == count


def test_zero_move_ends_pushes(standing) -> None:
    standing.Move(0.2, 0, 0)
    assert pusher_alive()
    assert standing.Move(0, 0, 0)["moving"] is False
    wait_until(lambda: not pusher_alive())


def test_stop_move_interrupts_stand_up(robot) -> None:
    errors: List[BaseException] = []

    def stand_up() -> None:
        try:
            robot.StandUp()
        except RuntimeError as e:
            errors.append(e)

    caller = threading.Thread(target=stand_up)
    start = time.monotonic()
    caller.start()
    wait_until(lambda: robot.GetState()["transition"] == "standing")
    stopped = time.monotonic()
    assert robot.StopMove()["posture"] == "lying"
    assert time.monotonic() - stopped < 0.1
    caller.join(1.0)
    assert not caller.is_alive() and time.monotonic() - start < 0.35  # StandUp takes 0.4 s
    assert len(errors) == 1 and "StandUp interrupted" in str(errors[0])
    assert robot.GetState()["posture"] == "lying" and robot.GetState()["transition"] is None


def test_damp_stops_walking_at_once(standing) -> None:
    standing.Move(0.5, 0, 0)
    assert standing.Damp() == {"posture": "damp"}
    state = standing.GetState()
    assert state["posture"] == "damp" and state["moving"] is False and not pusher_alive()
    with pytest.raises(RuntimeError, match="limp"):
        standing.Move(0.5, 0, 0)


def test_stop_halts_pushes_quickly_and_keeps_posture(standing, pushes) -> None:
    standing.Move(vx=0.3, vy=0, vyaw=0.2)
    pushes.wait_for(1)
    start = time.monotonic()
    assert standing.stop() is None
    assert time.monotonic() - start < 0.1
    wait_until(lambda: not pusher_alive())
    state = standing.GetState()
    assert state["posture"] == "standing" and state["moving"] is False
    start = time.monotonic()
    standing.stop()  # idle: nothing to halt
    assert time.monotonic() - start < 0.1


def test_battery_drains_and_runs_out(standing) -> None:
    before = standing.GetState()["battery"]
    standing.Move(1.0, 0, 0)
    wait_until(lambda: standing.GetState()["battery"] < before)
    standing._battery = 0.001  # nearly empty: the robot collapses when it runs out
    wait_until(lambda: standing.GetState()["error"] == "battery depleted")
    state = standing.GetState()
    assert state["battery"] == 0.0 and state["posture"] == "damp" and state["moving"] is False
    wait_until(lambda: not pusher_alive())
    with pytest.raises(RuntimeError, match="battery depleted"):
        standing.StandUp()


def test_results_are_strict_json(standing, pushes) -> None:
    results = [standing.GetState(), standing.BalanceStand(), standing.Euler(0.1, 0.2, 0.3),
               standing.SpeedLevel(1), standing.Move(0.4, 0.1, 0.2), standing.StopMove(),
               standing.Sit(), standing.StandDown(), standing.RecoveryStand(), standing.Damp(),
               standing.GetState()]
    for result in results:
        json.dumps(result, allow_nan=False)


# -- the camera -------------------------------------------------------------------------------

def decode_png(data: bytes) -> Tuple[int, int, List[bytes]]:
    """(width, height, rows of palette indices) of the camera's 8-bit palette PNG."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, chunks = 8, {}
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunks[kind] = data[position + 8:position + 8 + length]
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 3) and b"PLTE" in chunks and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = [raw[r * (width + 1) + 1:(r + 1) * (width + 1)] for r in range(height)]
    return width, height, rows


def test_the_camera_is_off_until_started(standing, pushes) -> None:
    standing.Move(0.3, 0, 0)
    pushes.wait_for_event("robot_state", 2)
    assert not pushes.of("camera") and not pusher_alive("camera")


def test_robot_state_is_a_latest_value_event(standing, pushes) -> None:
    standing.Move(0.3, 0, 0)
    pushes.wait_for_event("robot_state", 2)
    assert all(pushes.latest)


def test_the_camera_streams_png_frames_as_latest_value_events(robot, pushes) -> None:
    assert robot.StartCamera(fps=30) == {"camera": "on", "fps": 30.0}
    frames = pushes.wait_for_event("camera", 3)
    assert [frame["seq"] for frame in frames[:3]] == [1, 2, 3]
    for frame in frames:
        assert type(frame["png"]) is bytes and (frame["width"], frame["height"]) == (160, 120)
        assert decode_png(frame["png"])[:2] == (160, 120)
        assert abs(frame["time"] - time.time()) < 5
    assert all(pushes.latest)
    assert robot.StopCamera() == {"camera": "off"}
    wait_until(lambda: not pusher_alive("camera"))
    count = len(pushes.of("camera"))
    time.sleep(0.1)   # (no frame may follow StopCamera)
    assert len(pushes.of("camera")) == count


def test_the_stop_hook_stops_the_camera(robot, pushes) -> None:
    robot.StartCamera()
    pushes.wait_for_event("camera", 1)
    robot.stop()
    wait_until(lambda: not pusher_alive("camera"))
    assert robot.StartCamera(fps=5)["fps"] == 5.0      # and it can be started again
    pushes.wait_for_event("camera", 2)


@pytest.mark.parametrize("fps", [0, 31, -1, "10", None, float("nan")])
def test_start_camera_refuses_a_bad_rate(robot, fps) -> None:
    with pytest.raises(ValueError, match="fps"):
        robot.StartCamera(fps=fps)
    assert not pusher_alive("camera")


def test_the_view_shows_the_robot_heading_and_the_grid_moving_under_it(project, standing) -> None:
    width, height, rows = decode_png(standing.Snapshot())
    centre, ahead_east = rows[60][80], rows[60][88]
    assert centre == ahead_east == 4                    # standing: blue, pointing along +x
    assert rows[60][69] != 4                            # nothing behind its back edge
    standing._pose = (0.2, 0.0, math.pi / 2)            # turned left, a bit further on
    _, _, turned = decode_png(standing.Snapshot())
    assert turned[52][80] == 4 and turned[60][88] != 4  # now pointing up the image
    assert turned != rows                               # the grid moved under the robot


def test_snapshot_is_cached_while_nothing_changes(standing) -> None:
    assert standing.Snapshot() is standing.Snapshot()
