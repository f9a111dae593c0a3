"""Two results JSON trees compared number by number: the same keys, texts and flags, numbers within a tolerance."""

from __future__ import annotations

import math


def differences(left, right, rel: float = 1e-9, abs_: float = 0.0, path: str = "$") -> list[str]:
    """Where ``left`` and ``right`` differ: a JSON path and the two values, for each difference.

    Numbers (int or float, not bool) agree when ``|a - b| <= max(rel * max(|a|, |b|), abs_)``; NaN
    agrees only with NaN, an infinity only with itself. Everything else must be equal, lists
    element by element and dicts key by key.
    """
    if _number(left) and _number(right):
        if math.isnan(left) or math.isnan(right) or math.isinf(left) or math.isinf(right):
            same = (math.isnan(left) and math.isnan(right)) or left == right
        else:
            same = abs(left - right) <= max(rel * max(abs(left), abs(right)), abs_)
        return [] if same else [f"{path}: {left!r} != {right!r}"]
    if isinstance(left, dict) and isinstance(right, dict):
        found = [f"{path}.{key}: only in one tree" for key in sorted(set(left) ^ set(right), key=str)]
        for key in sorted(left.keys() & right.keys(), key=str):
            found += differences(left[key], right[key], rel, abs_, f"{path}.{key}")
        return found
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{path}: {len(left)} items != {len(right)} items"]
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in differences(a, b, rel, abs_, f"{path}[{i}]")]
    return [] if left == right and type(left) is type(right) else [f"{path}: {left!r} != {right!r}"]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
