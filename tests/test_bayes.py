"""Bayesian summary: closed forms, and calibration when the truth is drawn from the stated prior.

The peer check (gbstats' numbers) is in test_peer_gbstats.py. Here: when the true difference is
drawn from the prior and the estimate from N(truth, se^2), a correct posterior is calibrated:
its credible interval covers the truth in 95% of runs, the mean chance to win equals the share of
runs where treatment is truly better, and each choice's mean expected loss equals its mean realized
loss, all within Monte Carlo error.
"""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from study.ab.bayes import (
    NormalPrior,
    bayes_summary,
    expected_positive_part,
    normal_posterior,
    relative_difference,
)


def test_expected_loss_is_the_integral_of_the_positive_part():
    for mean, sd in [(0.3, 1.0), (-2.0, 0.5), (0.0, 2.0)]:
        direct, _ = integrate.quad(lambda x, mean=mean, sd=sd: x * stats.norm.pdf(x, mean, sd), 0, np.inf, epsabs=1e-13)
        assert expected_positive_part(mean, sd) == pytest.approx(direct, rel=1e-9)


def test_posterior_is_the_precision_weighted_combination():
    assert normal_posterior(1.0, 0.5) == (1.0, 0.5)
    mean, sd = normal_posterior(1.0, 0.5, NormalPrior(0.0, 0.25))
    assert (mean, sd) == pytest.approx((0.5, math.sqrt(0.125)))
    with pytest.raises(ValueError):
        normal_posterior(1.0, 0.0)


def test_lower_is_better_flips_the_chance_and_the_losses():
    up, down = bayes_summary(0.2, 0.1), bayes_summary(0.2, 0.1, lower_is_better=True)
    assert down.chance_to_win == pytest.approx(1 - up.chance_to_win)
    assert (down.risk_control, down.risk_treatment) == (up.risk_treatment, up.risk_control)
    # E[max(d, 0)] - E[max(-d, 0)] = E[d]
    assert up.risk_control - up.risk_treatment == pytest.approx(up.posterior_mean, rel=1e-12)


def test_describe_labels_the_prior():
    assert "flat (improper) prior" in bayes_summary(0.2, 0.1).describe()
    text = bayes_summary(0.2, 0.1, prior=NormalPrior(0.0, 0.04), estimand="relative lift").describe()
    assert text.startswith("relative lift: normal prior with mean 0 and standard deviation 0.2") and "95%" in text


def test_relative_difference_matches_the_delta_method_by_simulation():
    """se of t / c - 1 with c, t independent normal means: compare with 200,000 simulated ratios (rel. MC SE 0.16%)."""
    lift, se = relative_difference(10.0, 16.0, 400, 11.0, 20.0, 500)
    rng = np.random.default_rng(3)
    c, t = rng.normal(10.0, 0.2, 200_000), rng.normal(11.0, 0.2, 200_000)
    assert lift == pytest.approx(0.1) and se == pytest.approx(np.std(t / c - 1), rel=0.01)


@pytest.mark.parametrize("prior", [NormalPrior(0.1, 0.04), NormalPrior(-0.05, 0.01)], ids=["wide", "narrow"])
def test_decisions_are_calibrated_when_the_truth_comes_from_the_prior(prior):
    """6,000 runs. Coverage: 95% ± 3 SEs (0.84 pp). Chance to win and expected losses: their mean
    against the realized share / loss, within 3 SEs of the realized quantity's mean."""
    rng = np.random.default_rng(11)
    runs, se = 6000, 0.1
    truth = rng.normal(prior.mean, math.sqrt(prior.variance), runs)
    estimates = rng.normal(truth, se)
    found = [bayes_summary(e, se, prior=prior) for e in estimates]
    covered = np.mean([s.credible_low <= d <= s.credible_high for s, d in zip(found, truth)])
    assert abs(covered - 0.95) < 3 * math.sqrt(0.95 * 0.05 / runs)
    better = truth > 0
    chance = np.array([s.chance_to_win for s in found])
    assert abs(chance.mean() - better.mean()) < 3 * np.std(better.astype(float) - chance) / math.sqrt(runs)
    for attribute, realized in (("risk_treatment", np.maximum(-truth, 0)), ("risk_control", np.maximum(truth, 0))):
        risk = np.array([getattr(s, attribute) for s in found])
        assert abs(risk.mean() - realized.mean()) < 3 * np.std(realized - risk) / math.sqrt(runs), attribute
    # a flat prior ignores what the prior knows: its losses are miscalibrated in the narrow case
    if prior.variance < 0.02:
        flat = np.array([bayes_summary(e, se).risk_treatment for e in estimates])
        realized = np.maximum(-truth, 0)
        assert abs(flat.mean() - realized.mean()) > 3 * np.std(realized - flat) / math.sqrt(runs)


def test_the_report_table_reads_each_primary_comparison_in_its_better_direction():
    from study.ab import abstats, bayes, roles
    from study.ab.sufficient import Moments

    rng = np.random.default_rng(9)
    control = Moments.from_arrays(rng.binomial(1, 0.20, 4_000).astype(float))
    treatment = Moments.from_arrays(rng.binomial(1, 0.23, 4_000).astype(float))
    effect = abstats.proportion_effect(control, treatment, metric="churn_7")
    [as_churn] = roles.tag([effect], {"churn_7": roles.MetricRole("churn_7", "primary", "lower")})
    table = bayes.bayes_table([as_churn])
    direct = bayes.bayes_summary(effect.estimate, effect.se, alpha=effect.alpha, lower_is_better=True)
    chance = table["chance treatment is better"].iloc[0]
    assert chance == pytest.approx(direct.chance_to_win) and chance < 0.01  # churn rose: the change is worse
    assert "flat" in table["prior"].iloc[0]
    assert bayes.bayes_table([effect]).reason.startswith("no comparison of the primary metric")  # no role: nothing read
