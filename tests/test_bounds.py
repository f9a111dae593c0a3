"""Lee bounds: a hand-computed case, the collapse to the plain difference, and simulations where the
effect for always-responders is known."""

import math

import numpy as np
import pytest
from scipy import stats

from study.ab.bounds import imbens_manski, lee_bounds

NAN = np.nan


def test_tiny_case_by_hand():
    """Control: 2 of 8 respond (3, 5; mean 4). Treatment: 4 of 10 respond (1, 2, 4, 9).
    q = 1 - 0.25 / 0.4 = 0.375, so 2.5 of the 4 treated respondents are kept:
    lowest 1 + 2 + 0.5 * 4 = 5 -> mean 2, lower bound -2; highest 9 + 4 + 0.5 * 2 = 14 -> 5.6, upper 1.6.
    Variances (trimmed part + slope^2 var(q) + control mean):
    var(q) = 0.625^2 (0.75 / 2 + 0.6 / 4) = 0.205078125;
    lower: spread (1 + 0 + 0.5 * 4) / 2.5 = 1.2, (1.2 + 0.375 * 2^2) / 2.5 = 1.08, slope -2 / 0.625 = -3.2 -> 1.08 + 2.1 + 1;
    upper: spread (3.4^2 + 1.6^2 + 0.5 * 3.6^2) / 2.5 = 8.24, (8.24 + 0.375 * 3.6^2) / 2.5 = 5.24, slope 5.76."""
    control = [3, 5] + [NAN] * 6
    treatment = [1, 9, 2, 4] + [NAN] * 6
    b = lee_bounds(control, treatment)
    assert (b.lower, b.upper, b.naive_difference) == pytest.approx((-2.0, 1.6, 0.0), abs=1e-12)
    assert b.trimmed_arm == "treatment" and b.trim_share == pytest.approx(0.375)
    assert b.se_lower == pytest.approx(math.sqrt(1.08 + 10.24 * 0.205078125 + 1), rel=1e-12)
    assert b.se_upper == pytest.approx(math.sqrt(5.24 + 5.76**2 * 0.205078125 + 1), rel=1e-12)
    # the arms swapped: control is trimmed and the bounds change sign
    swapped = lee_bounds(treatment, control)
    assert (swapped.lower, swapped.upper) == pytest.approx((-1.6, 2.0), abs=1e-12) and swapped.trimmed_arm == "control"
    assert (swapped.se_lower, swapped.se_upper) == pytest.approx((b.se_upper, b.se_lower), rel=1e-12)


def test_equal_response_shares_collapse_to_the_plain_difference():
    rng = np.random.default_rng(4)
    control, treatment = rng.normal(3, 1, 400), rng.normal(3.2, 1, 400)
    control[:100], treatment[200:300] = NAN, NAN
    b = lee_bounds(control, treatment)
    plain = np.nanmean(treatment) - np.nanmean(control)
    assert b.trimmed_arm == "none" and b.lower == pytest.approx(plain) and b.upper == pytest.approx(plain)
    se = math.sqrt(np.nanvar(control, ddof=1) / 300 + np.nanvar(treatment, ddof=1) / 300)
    assert (b.se_lower, b.se_upper) == pytest.approx((se, se), rel=1e-12)
    assert (b.ci_low, b.ci_high) == pytest.approx((plain - stats.norm.isf(0.025) * se, plain + stats.norm.isf(0.025) * se))


def test_imbens_manski_critical_value_moves_from_two_sided_to_one_sided():
    assert imbens_manski(0, 0, 1, 1) == pytest.approx((-1.959964, 1.959964), abs=1e-6)
    assert imbens_manski(0, 50, 1, 1) == pytest.approx((-1.644854, 51.644854), abs=1e-6)
    low, _ = imbens_manski(0, 1, 0.5, 0.5)
    c = -low / 0.5
    assert stats.norm.cdf(c + 2) - stats.norm.cdf(-c) == pytest.approx(0.95, abs=1e-10)


def experiment(rng, n):
    """Always-responders: 50% of units, control outcome uniform on (0.7, 3.7), effect +0.3 (the truth).
    Treatment also makes another 10% respond ("marginal"), with outcomes uniform on (0, 1): just
    below every always-responder, so trimming the bottom sixth removes exactly them and the upper
    bound is sharp at the truth (the density stays positive at the cut, as the asymptotics need)."""
    kind = rng.random((2, n))
    always, marginal = kind < 0.5, (kind >= 0.5) & (kind < 0.6)
    base = rng.uniform(0.7, 3.7, (2, n))
    control = np.where(always[0], base[0], NAN)
    treatment = np.where(always[1], base[1] + 0.3, np.where(marginal[1], rng.uniform(0, 1, n), NAN))
    return control, treatment


def test_bounds_contain_the_truth_for_always_responders_and_the_naive_difference_does_not():
    """Population values: upper = 2.5 - 2.2 = 0.3; lower keeps the lowest 5/6 of treated respondents,
    all of (0, 1) and uniform (1, 3.4): (0.5 / 6 + 2.2 * 4 / 6) / (5 / 6) - 2.2 = -0.34; the naive
    difference of respondents' means is 0.5 / 6 + 2.5 * 5 / 6 - 2.2 = -0.0333."""
    b = lee_bounds(*experiment(np.random.default_rng(1), 400_000))
    assert b.upper == pytest.approx(0.3, abs=4 * b.se_upper) and b.lower == pytest.approx(-0.34, abs=4 * b.se_lower)
    assert b.naive_difference == pytest.approx(-1 / 30, abs=0.01) and b.ci_low < 0.3 < b.ci_high
    assert b.trim_share == pytest.approx(1 / 6, abs=0.01) and b.se_upper < 0.01


def test_interval_coverage_and_standard_errors_in_simulation():
    """1,000 experiments of 5,000 units per arm, the truth at the upper bound: the Imbens-Manski
    interval covers 0.3 in 95% (one-sided there) within 3 MC SEs (0.69 pp), and the standard error
    of the upper bound matches the spread of its estimates within 3 relative MC SEs
    (1 / sqrt(2 * 999) -> 6.7%). Half of that variance comes from the estimated trimming share:
    without it the population standard error would be sqrt((0.75 + 0.375) / 2500 + 0.75 / 2500) = 0.0274
    instead of 0.039, so a standard error that left it out would fail both checks."""
    rng = np.random.default_rng(7)
    runs = 1000
    found = [lee_bounds(*experiment(rng, 5000)) for _ in range(runs)]
    uppers = np.array([b.upper for b in found])
    coverage = np.mean([b.covers(0.3) for b in found])
    assert coverage >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / runs), coverage
    assert abs(np.std(uppers, ddof=1) / np.mean([b.se_upper for b in found]) - 1) < 3 / math.sqrt(2 * (runs - 1))
    assert abs(np.mean(uppers) - 0.3) < 3 * np.std(uppers) / math.sqrt(runs)
    assert np.std(uppers) > 1.3 * 0.0274


def test_an_outcome_with_one_value_gives_bounds_without_noise():
    import numpy as np

    from study.ab import bounds

    result = bounds.lee_bounds(np.array([4.0] * 50 + [np.nan] * 50), np.array([4.0] * 40 + [np.nan] * 60))
    assert (result.lower, result.upper, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0, 0.0)
