"""Holm and Benjamini-Hochberg against statsmodels' multipletests, and families of comparisons."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from study.ab import abtest, multitest
from study.ab.abstats import mean_effect
from study.ab.sufficient import Moments


@pytest.mark.parametrize("seed", range(20))
def test_adjustments_match_multipletests(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    p = rng.random(m) ** 3
    p[rng.random(m) < 0.25] = p[0]  # ties
    assert multitest.holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)
    assert multitest.benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1], abs=1e-12)


def test_known_small_example():
    p = [0.01, 0.04, 0.03, 0.20]
    assert list(multitest.holm(p)) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert list(multitest.benjamini_hochberg(p)) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_invalid_p_values_are_refused():
    with pytest.raises(ValueError):
        multitest.holm([0.1, 1.2])
    with pytest.raises(ValueError):
        multitest.benjamini_hochberg([np.nan])


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
