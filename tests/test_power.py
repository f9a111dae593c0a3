"""Power and sample size against statsmodels' NormalIndPower / TTestIndPower, and by simulation."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from study.ab import abstats, power
from study.ab.sufficient import Moments

GRID = [(0.1, 500, 1.0), (0.25, 80, 2.0), (0.05, 6000, 0.5), (0.4, 12, 1.0)]


@pytest.mark.parametrize("d, n_control, ratio", GRID)
def test_power_of_means_matches_statsmodels(d, n_control, ratio):
    sd = 3.0
    t = power.power_means(d * sd, sd, n_control, ratio * n_control, alpha=0.05, test="t")
    z = power.power_means(d * sd, sd, n_control, ratio * n_control, alpha=0.05, test="z")
    assert t == pytest.approx(TTestIndPower().power(d, n_control, 0.05, ratio=ratio), rel=1e-12)
    assert z == pytest.approx(NormalIndPower().power(d, n_control, 0.05, ratio=ratio), rel=1e-12)


@pytest.mark.parametrize("d, ratio, test", [(0.1, 1.0, "t"), (0.3, 2.0, "t"), (0.05, 1.0, "z"), (0.2, 0.5, "z")])
def test_sample_size_and_mde_match_statsmodels(d, ratio, test):
    engine = TTestIndPower() if test == "t" else NormalIndPower()
    plan = power.sample_size_means(d * 2.0, 2.0, alpha=0.05, power=0.8, ratio=ratio, test=test)
    # statsmodels solves with its own root-finder tolerances (about 1e-8 relative); ours to 1e-12.
    assert plan.n_control == pytest.approx(engine.solve_power(d, nobs1=None, alpha=0.05, power=0.8, ratio=ratio), rel=1e-6)
    assert power.power_means(d * 2.0, 2.0, plan.n_control, plan.n_treatment, test=test) == pytest.approx(0.8, abs=1e-10)
    assert plan.units_control == math.ceil(plan.n_control) and plan.n_treatment == pytest.approx(ratio * plan.n_control)

    mde = power.mde_means(2.0, 1000, 1000 * ratio, alpha=0.05, power=0.8, test=test)
    # statsmodels' effect-size solution is looser (its power there is off by up to ~1e-6, so the
    # effect by ~2e-6 relative); the defining equation holds for ours to 1e-10.
    assert mde.difference / 2.0 == pytest.approx(engine.solve_power(None, nobs1=1000, alpha=0.05, power=0.8, ratio=ratio), rel=1e-5)
    assert engine.power(mde.difference / 2.0, 1000, 0.05, ratio=ratio) == pytest.approx(0.8, abs=1e-10)


@pytest.mark.parametrize("p_control, difference, ratio", [(0.3, 0.03, 1.0), (0.05, 0.01, 2.0), (0.6, -0.05, 1.0)])
def test_power_of_proportions_is_normalindpower_with_the_unpooled_effect_size(p_control, difference, ratio):
    """With unequal variances the z-test's noncentrality delta / sqrt(v_c/n_c + v_t/n_t) equals
    NormalIndPower's d * sqrt(n_c / (1 + 1/ratio)) for d = delta * sqrt(1 + 1/ratio) / sqrt(v_c + v_t/ratio)."""
    p_t = p_control + difference
    v_c, v_t = p_control * (1 - p_control), p_t * (1 - p_t)
    d = abs(difference) * math.sqrt(1 + 1 / ratio) / math.sqrt(v_c + v_t / ratio)
    for n in (200, 2000):
        assert power.power_proportions(p_control, difference, n, ratio * n) == pytest.approx(
            NormalIndPower().power(d, n, 0.05, ratio=ratio), rel=1e-12)
    plan = power.sample_size_proportions(p_control, difference, ratio=ratio)
    assert power.power_proportions(p_control, difference, plan.n_control, plan.n_treatment) == pytest.approx(0.8, abs=1e-10)
    assert plan.relative == pytest.approx(abs(difference) / p_control)


def test_planned_size_gives_the_planned_power_in_simulation():
    """4,000 simulated experiments at the planned size: the unpooled z-test rejects 80% ± 3 binomial SEs (±1.9 pp)."""
    plan = power.sample_size_proportions(0.30, 0.03)
    n = plan.units_control
    rng = np.random.default_rng(13)
    runs = 4000
    successes_c, successes_t = rng.binomial(n, 0.30, runs), rng.binomial(n, 0.33, runs)
    rejections = sum(
        abstats.proportion_effect(Moments(n, float(c), float(c)), Moments(n, float(t), float(t)), lift=False).p_value < 0.05
        for c, t in zip(successes_c, successes_t))
    assert abs(rejections / runs - 0.80) <= 3 * math.sqrt(0.8 * 0.2 / runs), rejections / runs


def test_mde_of_proportions_inverts_the_power():
    mde = power.mde_proportions(0.2, 5000, 5000)
    assert power.power_proportions(0.2, mde.difference, 5000, 5000) == pytest.approx(0.8, abs=1e-10)
    down = power.mde_proportions(0.2, 5000, 5000, direction=-1)
    assert power.power_proportions(0.2, -down.difference, 5000, 5000) == pytest.approx(0.8, abs=1e-10)


def test_achieved_mde_uses_this_experiments_pooled_sd():
    rng = np.random.default_rng(14)
    control, treatment = rng.normal(10, 2, 700), rng.normal(10, 3, 900)
    c, t = Moments.from_arrays(control), Moments.from_arrays(treatment)
    sd = math.sqrt((699 * control.var(ddof=1) + 899 * treatment.var(ddof=1)) / 1598)
    assert power.pooled_sd(c, t) == pytest.approx(sd, rel=1e-12)
    achieved = power.achieved_mde(c, t)
    assert achieved.difference / sd == pytest.approx(TTestIndPower().solve_power(None, nobs1=700, alpha=0.05, power=0.8, ratio=900 / 700), rel=1e-6)
    assert achieved.relative == pytest.approx(achieved.difference / control.mean())
    estimate = achieved.to_estimate("spend_mde", "Spend: minimum detectable effect")
    assert estimate.n == 1600 and estimate.extra["units_per_arm"] == {"control": 700, "treatment": 900}


def test_impossible_requests_are_refused():
    with pytest.raises(ValueError):
        power.sample_size_means(1.0, 1.0, alpha=0.05, power=0.01)
    with pytest.raises(ValueError):
        power.sample_size_proportions(0.99, 0.05)
