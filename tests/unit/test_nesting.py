"""The depth bound's two checks: ``too_deep`` walks a value, ``shallow_json`` counts a JSON
text's brackets; the count may only ever say "shallow" for a value that is."""
from __future__ import annotations

import json
import random
from typing import Any

from shared import nesting


def nested(levels: int) -> Any:
    value: Any = 1
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_the_count_is_exact_at_the_bound_for_bytes_and_text():
    for text in ("[" * 64 + "]" * 64, json.dumps(nested(64))):
        assert nesting.shallow_json(text)
        assert nesting.shallow_json(text.encode())
    assert not nesting.shallow_json("[" * 65 + "]" * 65)
    assert not nesting.shallow_json(json.dumps(nested(65)).encode())
    assert nesting.shallow_json("[" * 65 + "]" * 65, limit=65)


def test_brackets_inside_strings_only_ever_send_the_value_to_the_walk():
    text = json.dumps({"note": "[{" * 40})
    assert not nesting.shallow_json(text)
    assert not nesting.too_deep(json.loads(text))


def test_shallow_text_is_never_a_deep_value():
    rng = random.Random(7)

    def build(depth: int) -> Any:
        if depth == 0:
            return rng.choice([1, "s", None, "[", 2.5])
        # One child goes on down; a few leaves beside it.
        children = [build(depth - 1)] + [rng.choice([0, "}"]) for _ in range(rng.randint(0, 2))]
        return children if rng.random() < 0.5 else {str(i): c for i, c in enumerate(children)}
    for _ in range(300):
        value = build(rng.randint(0, 80))
        if nesting.shallow_json(json.dumps(value)):
            assert not nesting.too_deep(value)
