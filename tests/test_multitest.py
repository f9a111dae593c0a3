"""Adjusted p-values of a set of comparisons (statsmodels' multipletests): a worked example, and families."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from study.ab import abtest
from study.ab.abstats import mean_effect
from study.ab.sufficient import Moments


def _with_p_values(p_values):
    base = mean_effect(Moments.from_arrays(np.arange(10.0)), Moments.from_arrays(np.arange(10.0) + 1), metric="m")
    return [base.__class__(**{**base.__dict__, "metric": f"m{i}", "p_value": p}) for i, p in enumerate(p_values)]


def test_known_small_example():
    """Holm: the i-th smallest p times m - i + 1, made monotone; BH: times m / i, made monotone from the top."""
    adjusted = abtest.adjust_p_values(_with_p_values([0.01, 0.04, 0.03, 0.20]))
    assert [e.adjusted_p_values["holm"] for e in adjusted] == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert [e.adjusted_p_values["benjamini_hochberg"] for e in adjusted] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])


def _effects():
    rng = np.random.default_rng(3)
    effects = []
    for segment in ("bronze", "gold"):
        for shift in (0.0, 0.3, 0.6):
            c, t = rng.normal(0, 1, 200), rng.normal(shift, 1, 200)
            e = mean_effect(Moments.from_arrays(c), Moments.from_arrays(t), metric=f"m{shift}")
            effects.append(e.__class__(**{**e.__dict__, "segment": {"tier": segment}}))
    return effects


def test_families_are_adjusted_separately():
    effects = _effects()
    together = abtest.adjust_p_values(effects)
    by_segment = abtest.adjust_p_values(effects, family=lambda e: e.segment["tier"])
    p = [e.p_value for e in effects]
    assert [e.adjusted_p_values["holm"] for e in together] == pytest.approx(list(multipletests(p, method="holm")[1]))
    for tier in ("bronze", "gold"):
        members = [e for e in by_segment if e.segment["tier"] == tier]
        expected = multipletests([e.p_value for e in members], method="fdr_bh")[1]
        assert [e.adjusted_p_values["benjamini_hochberg"] for e in members] == pytest.approx(list(expected))
        assert all(e.adjusted_p_values["family_size"] == 3 for e in members)
