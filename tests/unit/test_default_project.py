"""The bundled default project: a simulated Unitree SportClient (executor/default_project)."""
from __future__ import annotations

import importlib.util
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

MAIN = Path(__file__).resolve().parents[2] / "executor" / "default_project" / "main.py"
STATE_KEYS = {"posture", "transition", "moving", "pose", "velocity", "euler", "speed_level",
              "battery", "error"}


class Pushes:
    """A thread-safe stand-in for the appliance's push_message that records every event."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Any]] = []
        self.cond = threading.Condition()

    def __call__(self, event: str, data: Any) -> None:
        json.dumps(data, allow_nan=False)  # what the appliance will have to send
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 2.0) -> List[Tuple[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met within %.1f s" % timeout
        time.sleep(0.005)


def pusher_alive() -> bool:
    return any(t.name == "robot_state pusher" and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
def project(pushes: Pushes):
    """Load main.py the way the appliance does: push_message injected before and after."""
    spec = importlib.util.spec_from_file_location("default_project_%s" % uuid.uuid4().hex, MAIN)
    module = importlib.util.module_from_spec(spec)
    module.push_message = pushes
    spec.loader.exec_module(module)
    assert module.push_message is None  # the placeholder the project declares
    module.push_message = pushes
    yield module
    module.sport_client.stop()
    wait_until(lambda: not pusher_alive())


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
