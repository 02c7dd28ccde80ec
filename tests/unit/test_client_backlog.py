"""The per-client backlog: latest-value slots, system events first, byte budgets, drops."""
from __future__ import annotations

from gateway.client_backlog import Backlog

BIG = 10 ** 9


def drain(backlog):
    out = []
    entry = backlog.pop_system() or backlog.pop_data()
    while entry is not None:
        out.append((entry.event, entry.data))
        entry = backlog.pop_system() or backlog.pop_data()
    return out


def test_a_latest_value_replaces_the_waiting_one_in_place_and_is_no_drop():
    backlog = Backlog()
    backlog.add("camera", 1, 100, True, BIG)
    backlog.add("tick", "a", 10, False, BIG)
    backlog.add("camera", 2, 150, True, BIG)
    assert backlog.bytes == 160
    assert drain(backlog) == [("camera", 2), ("tick", "a")]
    assert backlog.take_drop_report() is None and backlog.bytes == 0
    backlog.add("camera", 3, 100, True, BIG)      # the slot is free again once sent
    assert drain(backlog) == [("camera", 3)]


def test_system_events_go_first_and_ordered_events_keep_their_order():
    backlog = Backlog()
    for i in range(3):
        backlog.add("tick", i, 10, False, BIG)
    backlog.add("robotctl:log", "line", 10, False, BIG)
    assert drain(backlog) == [("robotctl:log", "line"), ("tick", 0), ("tick", 1), ("tick", 2)]


def test_beyond_the_budget_the_oldest_data_is_dropped_and_counted():
    backlog = Backlog()
    backlog.add("robotctl:log", "line", 10, False, 100)
    for i in range(10):
        backlog.add("tick", i, 20, False, 100)
    assert backlog.bytes <= 100
    assert drain(backlog) == [("robotctl:log", "line")] + [("tick", i) for i in (6, 7, 8, 9)]
    assert backlog.take_drop_report() == {"count": 6, "by_event": {"tick": 6}}
    assert backlog.take_drop_report() is None


def test_an_event_larger_than_the_budget_is_dropped_itself():
    backlog = Backlog()
    backlog.add("map", "huge", 1000, False, 100)
    assert not backlog and backlog.bytes == 0
    assert backlog.take_drop_report() == {"count": 1, "by_event": {"map": 1}}
