"""Two sets of A/B sufficient statistics compared field by field: the same keys, units, counts and origins,
sums within a tolerance."""

from __future__ import annotations

import dataclasses

import pytest


def assert_same_aggregates(left, right, rel: float = 1e-9, abs_: float = 1e-6) -> None:
    """Assert ``left`` and ``right`` (:class:`study.ab.aggregate.Aggregates`) hold the same statistics.

    Keys, units per arm, types, counts and origins must be equal; every other field within ``rel``
    (relative) or ``abs_`` (sums about an origin can be near zero, hence the absolute floor).
    """
    assert set(left.stats) == set(right.stats) and left.units == right.units
    for key, a in left.stats.items():
        b = right.stats[key]
        assert type(a) is type(b) and a.n == b.n and getattr(a, "origin", None) == getattr(b, "origin", None), key
        for f in dataclasses.fields(a):
            if f.name not in ("n", "origin"):
                assert getattr(a, f.name) == pytest.approx(getattr(b, f.name), rel=rel, abs=abs_), (key, f.name)
