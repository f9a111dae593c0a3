"""Robust alternatives against scipy and hand computations; the bootstrap against Welch within Monte Carlo error."""

import numpy as np
import pytest
from scipy import stats

from study.ab import robust
from study.ab.abstats import mean_effect
from study.ab.sufficient import Moments


def _heavy(seed, n_control=400, n_treatment=500):
    rng = np.random.default_rng(seed)
    return rng.lognormal(3, 1.3, n_control), rng.lognormal(3.1, 1.3, n_treatment)


@pytest.mark.parametrize("trim", [0.0, 0.1, 0.2])
def test_trimmed_means_are_yuens_test_as_in_scipy(trim):
    control, treatment = _heavy(1)
    effect = robust.trimmed_effect(control, treatment, trim=trim)
    reference = stats.ttest_ind(treatment, control, equal_var=False, trim=trim)
    assert effect.estimate == pytest.approx(stats.trim_mean(treatment, trim) - stats.trim_mean(control, trim), rel=1e-9)
    assert effect.estimate / effect.se == pytest.approx(reference.statistic, rel=1e-9)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert effect.df == pytest.approx(reference.df, rel=1e-9)
    assert effect.method_code == "yuen_t"


def test_winsorized_means_cap_both_arms_at_the_pooled_quantile():
    control, treatment = _heavy(2)
    effect = robust.winsorized_effect(control, treatment, upper=0.95)
    cut = np.quantile(np.concatenate([control, treatment]), 0.95)
    capped = [np.minimum(a, cut) for a in (control, treatment)]
    reference = stats.ttest_ind(capped[1], capped[0], equal_var=False)
    assert effect.extra["cutoffs"]["upper"] == pytest.approx(cut)
    assert effect.estimate == pytest.approx(capped[1].mean() - capped[0].mean(), rel=1e-9)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert sum(effect.extra["values_capped"].values()) == int((control > cut).sum() + (treatment > cut).sum())
    assert effect.method_code == "winsorized_welch_t"


def test_mann_whitney_estimate_is_the_probability_of_superiority():
    control, treatment = np.array([1.0, 2, 2, 5]), np.array([2.0, 3, 6])
    effect = robust.mann_whitney_effect(control, treatment)
    pairs = [(t > c) + 0.5 * (t == c) for t in treatment for c in control]
    assert effect.estimate == pytest.approx(np.mean(pairs))
    control, treatment = _heavy(3)
    effect = robust.mann_whitney_effect(control, treatment)
    reference = stats.mannwhitneyu(treatment, control, alternative="two-sided", method="asymptotic")
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-12)
    assert effect.estimate == pytest.approx(reference.statistic / (control.size * treatment.size), rel=1e-12)


def test_bootstrap_is_reproducible_with_its_seed():
    control, treatment = _heavy(4, 150, 160)
    first = robust.bootstrap_effect(control, treatment, n_resamples=500, seed=7)
    again = robust.bootstrap_effect(control, treatment, n_resamples=500, seed=7)
    other = robust.bootstrap_effect(control, treatment, n_resamples=500, seed=8)
    assert (first.ci_low, first.ci_high, first.se) == (again.ci_low, again.ci_high, again.se)
    assert first.ci_low != other.ci_low
    assert "seed 7" in first.method and first.p_value is None


def test_bootstrap_does_not_depend_on_how_many_resamples_are_drawn_at_once(monkeypatch):
    control, treatment = _heavy(6, 300, 340)
    whole = robust.bootstrap_effect(control, treatment, n_resamples=700, seed=3)
    monkeypatch.setattr(robust, "BLOCK_INDICES", 1000)  # three resamples a block
    blocks = robust.bootstrap_effect(control, treatment, n_resamples=700, seed=3)
    assert (blocks.ci_low, blocks.ci_high, blocks.se) == (whole.ci_low, whole.ci_high, whole.se)


def test_bootstrap_agrees_with_welch_within_monte_carlo_error():
    """Means of ~1,000 units per arm: the bootstrap SE estimates Welch's SE (up to the factor
    sqrt((n-1)/n)), with Monte Carlo relative error about 1/sqrt(2B) = 1.1% at B = 4,000; the
    tolerance is 4 such errors. The percentile bounds differ from Welch's by skewness (O(1/n)) plus
    Monte Carlo error of a 2.5% quantile (about 0.06 SE); tolerance 0.25 SE."""
    control, treatment = _heavy(5, 1000, 1100)
    welch = mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment))
    boot = robust.bootstrap_effect(control, treatment, n_resamples=4000, seed=11)
    assert boot.estimate == pytest.approx(welch.estimate, rel=1e-12)
    assert boot.se == pytest.approx(welch.se, rel=4 / np.sqrt(2 * 4000))
    assert abs(boot.ci_low - welch.ci_low) < 0.25 * welch.se and abs(boot.ci_high - welch.ci_high) < 0.25 * welch.se


def test_robust_table_puts_the_plain_test_first():
    control, treatment = _heavy(6, 300, 300)
    effects = robust.robust_effects(control, treatment, n_resamples=300)
    assert [e.method_code for e in effects] == ["welch_t", "winsorized_welch_t", "yuen_t", "mann_whitney_u", "bootstrap_percentile"]
    assert effects[0].estimate == pytest.approx(treatment.mean() - control.mean())


def test_the_bootstrap_is_left_out_above_its_unit_limit_and_the_table_says_so():
    import pandas as pd

    from study.ab import sla_comparisons as sla

    rng = np.random.default_rng(3)
    control, treatment = rng.lognormal(3, 1, 300), rng.lognormal(3, 1, 300)
    kept = robust.robust_effects(control, treatment, n_resamples=200, bootstrap_max_units=600)
    left_out = robust.robust_effects(control, treatment, n_resamples=200, bootstrap_max_units=599)
    assert [e.method_code for e in kept][-1] == "bootstrap_percentile"
    assert [e.method_code for e in left_out] == [e.method_code for e in kept][:-1]
    customers = pd.DataFrame({"variant": ["control"] * 300 + ["treatment"] * 300,
                              "next_spend": np.concatenate([control, treatment])})
    original = sla.BOOTSTRAP_MAX_CUSTOMERS
    try:
        sla.BOOTSTRAP_MAX_CUSTOMERS = 599
        table = sla.robust_spend_table(sla.robust_spend_effects(customers))
    finally:
        sla.BOOTSTRAP_MAX_CUSTOMERS = original
    assert table.index[-1] == "bootstrap interval of the difference of means: left out above 599 customers"
    assert table.iloc[-1].isna().all()
