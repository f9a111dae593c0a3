"""Acceptance rules for coverage tests, chosen from the binomial distribution for a stated power.

A coverage test counts how many of R intervals contain the truth. Its acceptance range must let a
correct interval (true coverage 95%) pass with high probability and make a wrong one (true coverage
90%) fail with high probability; ``0.95 +/- 3 binomial SE`` over 200 runs does neither well (a true
92% passes 71% of the time). :func:`acceptance_range` gives the range for a pass probability,
:func:`probability_in_range` the probability that a given true coverage lands in it, and
:func:`smallest_runs` the fewest runs meeting both requirements.

The simulated data sets of a coverage test are the customers of one large simulation dealt into
hands (:func:`deal`): customers are drawn independently, so the hands are independent given the
simulation's agents, and one simulation and one validation serve every run.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from study.data import simulate
from study.data.dataset import TicketData, from_frame

NOMINAL = 0.95
WRONG = 0.90  # a coverage the tests must detect
PASS_PROBABILITY = 0.99  # a true 95% passes at least this often (all the test's estimates together)
FAIL_PROBABILITY = 0.95  # a true 90% fails at least this often (each estimate)

# The shared simulation of the coverage tests: 540 hands of about 1,000 tickets (some 310 answered surveys).
HANDS, HAND_ROWS, SEED = 540, 1_000, 31_337


def acceptance_range(runs: int, nominal: float = NOMINAL, pass_probability: float = PASS_PROBABILITY,
                     estimates: int = 1) -> tuple[int, int]:
    """The counts ``(low, high)`` of covered runs a correct interval must land in.

    Each tail outside the range has probability at most ``(1 - pass_probability) / (2 * estimates)``
    under a true coverage ``nominal``, so ``estimates`` intervals checked together all pass with
    probability at least ``pass_probability`` (Bonferroni: whatever their dependence). The range is
    the widest with that property.

    Parameters
    ----------
    runs : int
        Number of simulated data sets.
    nominal : float
        Coverage of a correct interval.
    pass_probability : float
        Probability that a correct test passes.
    estimates : int
        Intervals checked on the same runs.
    """
    tail = (1 - pass_probability) / (2 * estimates)
    counts = np.arange(runs + 1)
    below = stats.binom.cdf(counts - 1, runs, nominal)  # P(X < k)
    above = stats.binom.sf(counts, runs, nominal)  # P(X > k)
    return int(counts[below <= tail].max()), int(counts[above <= tail].min())


def probability_in_range(runs: int, accepted: tuple[int, int], coverage: float) -> float:
    """Probability that a true ``coverage`` gives a count of covered runs inside ``accepted`` (inclusive)."""
    low, high = accepted
    return float(stats.binom.cdf(high, runs, coverage) - stats.binom.cdf(low - 1, runs, coverage))


def smallest_runs(nominal: float = NOMINAL, wrong: float = WRONG, pass_probability: float = PASS_PROBABILITY,
                  fail_probability: float = FAIL_PROBABILITY, estimates: int = 1, start: int = 50) -> int:
    """The fewest runs whose :func:`acceptance_range` rejects a true ``wrong`` coverage with ``fail_probability``."""
    runs = start
    while probability_in_range(runs, acceptance_range(runs, nominal, pass_probability, estimates), wrong) > 1 - fail_probability:
        runs += 1
    return runs


def percentile_coverage(replicates: int, nominal: float = NOMINAL) -> float:
    """Coverage of a percentile bootstrap interval from ``replicates`` draws when the bootstrap itself is exact.

    ``numpy.quantile`` (linear) puts the ``q`` quantile of B draws at order statistic
    ``q (B - 1) + 1``, and the truth lies below the r-th of B draws from its own sampling
    distribution with probability ``r / (B + 1)``: the interval covers ``nominal (B - 1) / (B + 1)``
    (94.05% from 199 draws, 94.81% from 999, 94.91% from 2,000).
    """
    return nominal * (replicates - 1) / (replicates + 1)


def deal(customer_id: pd.Series | np.ndarray, hands: int) -> list[np.ndarray]:
    """Row positions of each of ``hands`` hands, customers dealt in turn (a customer's rows stay together)."""
    hand = pd.factorize(np.asarray(customer_id))[0] % hands
    order = np.argsort(hand, kind="stable")
    bounds = np.searchsorted(hand[order], np.arange(hands + 1))
    return [order[bounds[h]:bounds[h + 1]] for h in range(hands)]


@functools.lru_cache(maxsize=1)
def simulation_in_hands(hands: int = HANDS, rows: int = HAND_ROWS, seed: int = SEED) -> tuple[TicketData, dict, list[np.ndarray]]:
    """One simulation of ``hands`` x ``rows`` tickets, validated once, dealt into ``hands`` hands.

    Cached: the coverage tests of several modules share it in one session.

    Returns
    -------
    data : TicketData
    truth : dict
        The simulation's truth. For a slope it is the process's constant; for a level (the mean
        CSAT of all tickets) it is the mean given the simulation's agents, which every hand shares
        and which a standard error clustered by customer describes.
    hands : list of numpy.ndarray
        Row positions of each hand (:func:`deal`).
    """
    study = simulate.simulate(rows=hands * rows, seed=seed)
    data = from_frame(study.tickets, "simulation")
    return data, study.truth, deal(data.tickets["customer_id"], hands)


def hand_data(data: TicketData, rows: np.ndarray) -> TicketData:
    """One hand as the study's functions take it (already validated)."""
    return TicketData(data.tickets.iloc[rows].reset_index(drop=True), data.source)
