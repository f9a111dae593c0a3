"""The coverage tests' acceptance rules against binomial sums written out, and the bootstrap's finite-draw coverage by simulation."""

from math import comb

import numpy as np
import pandas as pd
import pytest

from study.core.inference import percentile_interval
from tests import coverage_rules


def _pmf(runs, coverage):
    return [comb(runs, k) * coverage**k * (1 - coverage) ** (runs - k) for k in range(runs + 1)]


@pytest.mark.parametrize("runs, estimates", [(560, 3), (540, 2), (540, 1), (200, 1)])
def test_acceptance_range_is_the_widest_with_both_tails_below_their_share(runs, estimates):
    """Each tail outside the range is at most (1 - 0.99) / (2 x estimates); one more count on either side would exceed it."""
    low, high = coverage_rules.acceptance_range(runs, estimates=estimates)
    pmf, tail = _pmf(runs, 0.95), 0.01 / (2 * estimates)
    assert sum(pmf[:low]) <= tail < sum(pmf[: low + 1])
    assert sum(pmf[high + 1:]) <= tail < sum(pmf[high:])
    assert coverage_rules.probability_in_range(runs, (low, high), 0.90) == pytest.approx(sum(_pmf(runs, 0.90)[low: high + 1]), abs=1e-12)


def test_the_adjusted_models_rule_and_the_fewest_runs_for_the_stated_power():
    """560 runs for three estimates give 516 to 546 (the rule of tests/test_models.py); the fewest runs that make
    a true 90% fail with probability 0.95 while a true 95% passes with 0.99: 470 for one estimate, 526 for two."""
    assert coverage_rules.acceptance_range(560, estimates=3) == (516, 546)
    assert coverage_rules.probability_in_range(560, (516, 546), 0.95) == pytest.approx(0.9975, abs=1e-4)
    assert coverage_rules.probability_in_range(560, (516, 546), 0.90) == pytest.approx(0.0490, abs=1e-4)
    for estimates, runs in [(1, 470), (2, 526)]:
        assert coverage_rules.smallest_runs(estimates=estimates) == runs
        fewer = coverage_rules.acceptance_range(runs - 1, estimates=estimates)
        assert coverage_rules.probability_in_range(runs - 1, fewer, 0.90) > 0.05
    # The rule it replaces: 200 runs within 3 binomial SE of 95% (181 to 198) passes a true 92% most of the time.
    se = 3 * np.sqrt(0.95 * 0.05 / 200)
    old = (int(np.ceil(200 * (0.95 - se))), int(np.floor(200 * (0.95 + se))))
    assert coverage_rules.probability_in_range(200, old, 0.92) > 0.7


def test_percentile_interval_of_few_draws_covers_less_than_its_level():
    """When the truth and the B draws come from one distribution, numpy's linear quantiles cover 0.95 (B - 1) / (B + 1).

    20,000 simulated intervals of 19 draws: expected coverage 0.855, Monte Carlo SE 0.0025; tolerance 4 SE.
    """
    rng = np.random.default_rng(3)
    draws = rng.standard_normal((20_000, 19))
    truth = rng.standard_normal(20_000)
    low, high = percentile_interval(draws, 0.05, axis=1)
    covered = np.mean((low <= truth) & (truth <= high))
    expected = coverage_rules.percentile_coverage(19)
    assert expected == pytest.approx(0.855)
    assert abs(covered - expected) < 4 * np.sqrt(expected * (1 - expected) / 20_000), covered
    assert coverage_rules.percentile_coverage(999) == pytest.approx(0.9481, abs=1e-4)


def test_deal_puts_every_row_in_one_hand_and_keeps_customers_whole():
    customers = pd.Series(["c", "a", "b", "a", "d", "c", "e", "b"])
    hands = coverage_rules.deal(customers, 3)
    assert sorted(np.concatenate(hands).tolist()) == list(range(len(customers)))
    owner = {c: h for h, rows in enumerate(hands) for c in customers.iloc[rows]}
    assert all(owner[c] == h for h, rows in enumerate(hands) for c in customers.iloc[rows])
    assert [len(h) for h in hands] == [3, 3, 2]  # customers c, a, b, d, e dealt in turn: (c, d), (a, e), (b)
