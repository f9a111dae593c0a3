"""How good the predictions are on the test months: discrimination, calibration, gains.

- **AUC** (the chance that a ticket followed by a purchase is ranked above one that was not; 0.5 is a
  coin, 1 perfect), from ranks with ties counted half, as ``sklearn.metrics.roc_auc_score``.
  Its interval is a percentile bootstrap that draws *customers* with replacement (each bringing all
  of its test tickets), so tickets of one customer are not taken for independent evidence. Every
  replicate is a weighting of the same sorted scores, so B replicates cost one sort and a cumulative
  sum of the negatives' weights (B x negatives).
  The DeLong closed-form standard error (:func:`delong_se`, tickets independent) is the reference
  the tests and the benchmark hold the bootstrap to.
- **Brier score**: the mean squared difference between predicted probability and outcome (lower is
  better; predicting the base rate for everyone scores ``rate * (1 - rate)``).
- **Calibration**: test tickets in ten groups of equal size by predicted probability, the mean
  prediction beside the observed rate of each.
- **Gains**: tickets ranked from least to most likely to be followed by a purchase, in tenths; each
  tenth's share of all the tickets after which the customer did not buy again, and the lift (that
  share over the tenth's 10%).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from study.core.inference import percentile_interval


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | float:
    """AUC with ties counted half, under one weighting of the tickets or many (rows of ``weights``).

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, 0/1.
    score : numpy.ndarray
        Predicted probability (any score: only its order matters).
    weights : numpy.ndarray, optional
        ``(B, n)`` weights, one row per replicate; ``None`` weighs every ticket once.

    Returns
    -------
    float, or numpy.ndarray of B values (NaN where a replicate has no ticket of one outcome).
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    single = weights is None
    w = np.ones((1, y.size)) if single else np.atleast_2d(np.asarray(weights, dtype=float))
    positive = np.flatnonzero(y == 1)
    negative = np.flatnonzero(y != 1)
    negative = negative[np.argsort(score[negative], kind="stable")]
    # Each positive's weighted count of negatives scored below it, plus half of those tied with it: the
    # cumulative negative weight at the start and at the end of its tie, averaged. Only the negatives are
    # summed along the replicates, and the weights are whole numbers, so every sum is exact.
    start = np.searchsorted(score[negative], score[positive], "left")
    end = np.searchsorted(score[negative], score[positive], "right")
    below = np.zeros((w.shape[0], negative.size + 1))
    # np.take gathers columns about twice as fast as fancy indexing, with the same values.
    np.cumsum(np.take(w, negative, axis=1), axis=1, out=below[:, 1:])
    on_positive = np.take(w, positive, axis=1)
    pairs = (on_positive * (np.take(below, start, axis=1) + np.take(below, end, axis=1))).sum(axis=1) * 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = pairs / (on_positive.sum(axis=1) * below[:, -1])
    return float(auc[0]) if single else auc


# Replicates weighed at once: the (replicates, tickets) arrays of a block stay in memory the process reuses. All
# 1,000 at once took 3 GB of fresh memory at 67,000 test tickets (seconds to touch on a VM); a multiple of 64, so
# the blocks' rows fall on the same BLAS tiles as the whole matrix's and every replicate is computed alike.
BLOCK_REPLICATES = 128


def customer_weight_blocks(customers: np.ndarray, replicates: int, rng: np.random.Generator,
                           block: int = BLOCK_REPLICATES) -> Iterator[np.ndarray]:
    """:func:`customer_weights` in blocks of at most ``block`` replicates, the same draws in the same order."""
    codes, _ = pd.factorize(pd.Series(customers))
    count = int(codes.max()) + 1
    for start in range(0, replicates, block):
        rows = min(block, replicates - start)
        # Counts of each customer among `count` draws with replacement, per replicate (a multinomial, made by bincount).
        draws = rng.integers(0, count, size=(rows, count)) + count * np.arange(rows)[:, None]
        drawn = np.bincount(draws.ravel(), minlength=rows * count).reshape(rows, count)
        # As floats once here: every statistic weighs with them, and a (B, n) conversion per use costs more.
        yield np.take(drawn.astype(float), codes, axis=1)


def customer_weights(customers: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``(replicates, n)`` ticket weights: how often each ticket's customer was drawn in each replicate."""
    return np.vstack(list(customer_weight_blocks(customers, replicates, rng)))


def delong_se(y: np.ndarray, score: np.ndarray) -> float:
    """DeLong, DeLong and Clarke-Pearson's (1988) standard error of the AUC, tickets taken as independent."""
    y = np.asarray(y).astype(bool)
    positive, negative = np.asarray(score, float)[y], np.asarray(score, float)[~y]
    m, n = positive.size, negative.size
    every = stats.rankdata(np.r_[positive, negative])
    # Placement values: the share of the other class each score beats (ties half).
    v10 = (every[:m] - stats.rankdata(positive)) / n
    v01 = 1 - (every[m:] - stats.rankdata(negative)) / m
    return float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))


@dataclass(frozen=True)
class Discrimination:
    """AUC of one model on the test tickets, with its customer-bootstrap interval.

    Attributes
    ----------
    auc, low, high, se : float
        Point estimate, percentile interval bounds and the replicates' standard deviation.
    draws : numpy.ndarray
        The replicates' AUCs.
    """

    auc: float
    low: float
    high: float
    se: float
    draws: np.ndarray


def discrimination(y: np.ndarray, score: np.ndarray, weights: np.ndarray, alpha: float) -> Discrimination:
    """The AUC and its percentile interval over the customer-bootstrap ``weights``."""
    return discrimination_of(y, score, weighted_auc(y, score, weights), alpha)


def discrimination_of(y: np.ndarray, score: np.ndarray, draws: np.ndarray, alpha: float) -> Discrimination:
    """The AUC and its percentile interval over the replicates' AUCs ``draws`` (:func:`weighted_auc` by weights)."""
    draws = draws[np.isfinite(draws)]
    low, high = percentile_interval(draws, alpha)
    return Discrimination(weighted_auc(y, score), float(low), float(high), float(np.std(draws, ddof=1)), draws)


def brier(y: np.ndarray, probability: np.ndarray, weights: np.ndarray | None = None):
    """Mean squared difference between predicted probability and the 0/1 outcome (per replicate with ``weights``)."""
    squared = (np.asarray(probability, float) - np.asarray(y, float)) ** 2
    if weights is None:
        return float(np.mean(squared))
    w = np.atleast_2d(weights)
    return (w @ squared) / w.sum(axis=1)


def tenths(probability: np.ndarray, groups: int = 10) -> np.ndarray:
    """Group 1..``groups`` of each ticket, equal-sized groups by predicted probability (ties broken by position)."""
    order = np.argsort(probability, kind="stable")
    group = np.empty(len(probability), dtype=int)
    group[order] = np.arange(len(probability)) * groups // len(probability) + 1
    return group


def calibration(y: np.ndarray, probability: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Mean predicted probability and observed rate in each of ``groups`` equal-sized groups by prediction."""
    frame = pd.DataFrame({"group": tenths(probability, groups), "p": probability, "y": np.asarray(y, float)})
    table = frame.groupby("group").agg(tickets=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    table.index.name = "group (by predicted probability)"
    return table


def gains(y: np.ndarray, probability: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Tickets ranked from least to most likely to be followed by a purchase, in ``groups`` equal parts.

    Columns: tickets, those after which the customer did not buy again, that tenth's share of all of
    them, the cumulative share, and the lift (cumulative share over the cumulative share of tickets).
    """
    lost = 1 - np.asarray(y, float)
    frame = pd.DataFrame({"group": tenths(probability, groups), "lost": lost, "p": probability})
    table = frame.groupby("group").agg(tickets=("lost", "size"), predicted=("p", "mean"), did_not_return=("lost", "sum"))
    table["share of non-returners"] = table["did_not_return"] / lost.sum()
    table["cumulative share"] = table["share of non-returners"].cumsum()
    table["cumulative share of tickets"] = table["tickets"].cumsum() / len(lost)
    table["lift"] = table["cumulative share"] / table["cumulative share of tickets"]
    table["did_not_return"] = table["did_not_return"].astype(int)
    table.index.name = "tenth (1 = least likely to buy again)"
    return table.rename(columns={"did_not_return": "did not buy again", "predicted": "mean predicted"})


def first_tenth_share(y: np.ndarray, probability: np.ndarray, weights: np.ndarray | None = None):
    """Share of the non-returners held by the tenth ranked least likely to return (per replicate with ``weights``)."""
    lost = 1 - np.asarray(y, float)
    first = (tenths(probability) == 1).astype(float)
    if weights is None:
        return float((lost * first).sum() / lost.sum())
    w = np.atleast_2d(weights)
    return (w @ (lost * first)) / (w @ lost)
