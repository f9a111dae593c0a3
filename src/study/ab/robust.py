"""Heavy-tailed metrics (spend, handling time): robust comparisons next to the plain Welch test.

These need each unit's value, not sufficient statistics (ranks, quantiles and resamples are not
sums). Each answers a slightly different question, stated in the result's ``estimand``:

- winsorized means: values above (and below) a pooled quantile are capped before Welch's test;
  the estimand is the difference in capped means, which trades a little bias for much less variance;
- Yuen's trimmed means: the 10% (say) most extreme values of each tail are set aside in each arm;
- Mann-Whitney: probability that a treated unit beats a control unit (ties count half);
- bootstrap: percentile interval of the difference in means (or medians, trimmed means) from
  resampling units within each arm, seeded so that a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from study.ab.abstats import Effect, _inference, mean_effect, welch_df
from study.ab.sufficient import Moments
from study.core.inference import percentile_interval

BLOCK_INDICES = 2_000_000
STATISTICS: dict[str, Callable] = {
    "mean": np.mean,
    "median": np.median,
    "trimmed mean (10%)": lambda a, axis: stats.trim_mean(a, 0.1, axis=axis),
}


def _values(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def winsorized_effect(control, treatment, *, upper: float | None = 0.99, lower: float | None = None,
                      metric: str = "metric", arms: tuple[str, str] = ("control", "treatment"),
                      alpha: float = 0.05, label: str = "") -> Effect:
    """Welch's test on values capped at quantiles of both arms pooled.

    The cut-offs come from the pooled sample so that both arms get the same transformation; per-arm
    cut-offs would themselves differ with the treatment.

    Parameters
    ----------
    control, treatment : array-like
        One value per unit; missing values are left out.
    upper, lower : float or None
        Quantiles to cap at (e.g. ``upper=0.99``); ``None`` leaves that tail alone.
    metric, arms, alpha, label
        As in :func:`study.ab.abstats.mean_effect`.

    Returns
    -------
    Effect
        Method ``winsorized_welch_t``; ``extra`` holds the cut-offs and how many values were capped.
    """
    c, t = _values(control), _values(treatment)
    pooled = np.concatenate([c, t])
    low_cut = float(np.quantile(pooled, lower)) if lower is not None else -math.inf
    high_cut = float(np.quantile(pooled, upper)) if upper is not None else math.inf
    capped = [np.clip(a, low_cut, high_cut) for a in (c, t)]
    effect = mean_effect(Moments.from_arrays(capped[0]), Moments.from_arrays(capped[1]), metric=metric, arms=arms,
                         alpha=alpha, label=label)
    tails = " and ".join(f"{name} {q:.0%} quantile ({cut:.4g})" for name, q, cut in
                         (("lower", lower, low_cut), ("upper", upper, high_cut)) if q is not None)
    method = f"winsorized_welch_t: values capped at the pooled {tails}, then Welch's t-test"
    capped_counts = {arm: int(np.sum((a < low_cut) | (a > high_cut))) for arm, a in zip(arms, (c, t))}
    return replace(effect, method=method, estimand="difference in winsorized means (treatment - control)",
                   extra={"cutoffs": {"lower": low_cut if lower is not None else None,
                                      "upper": high_cut if upper is not None else None},
                          "values_capped": capped_counts})


def trimmed_effect(control, treatment, *, trim: float = 0.1, metric: str = "metric",
                   arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05, label: str = "") -> Effect:
    """Yuen's test of trimmed means (unequal variances): scipy's ``ttest_ind(..., equal_var=False, trim=trim)``.

    In each arm ``g = floor(trim * n)`` values are set aside at each end; the standard error uses the
    winsorized variance, ``SS_w / (h (h - 1))`` with ``h = n - 2g``, and Welch-Satterthwaite df on ``h - 1``.

    Returns
    -------
    Effect
        Method ``yuen_t``; no relative lift.
    """
    if not 0 <= trim < 0.5:
        raise ValueError("trim must be in [0, 0.5)")
    summaries = []
    for a in (_values(control), _values(treatment)):
        a = np.sort(a)
        n, g = a.size, int(trim * a.size)
        h = n - 2 * g
        if h < 2:
            raise ValueError(f"'{metric}': fewer than 2 values left after trimming")
        winsorized = a.copy()
        if g:
            winsorized[:g], winsorized[-g:] = a[g], a[-g - 1]
        var = float(np.sum((winsorized - winsorized.mean()) ** 2) / (h - 1))
        summaries.append((float(stats.trim_mean(a, trim)), var, h, n))
    (m_c, v_c, h_c, n_c), (m_t, v_t, h_t, n_t) = summaries
    se = math.sqrt(v_c / h_c + v_t / h_t)
    df = welch_df(v_c, h_c, v_t, h_t)
    estimate = m_t - m_c
    low, high, p = _inference(estimate, se, df, alpha)
    method = f"yuen_t: Yuen's trimmed-means t-test, {trim:.0%} trimmed from each tail of each arm"
    return Effect(metric, arms[0], arms[1], method,
                  f"difference in {trim:.0%}-trimmed means (treatment - control)", n_c, n_t, m_c, m_t, estimate, se,
                  low, high, p, df, alpha=alpha, label=label, extra={"trim": trim})


def mann_whitney_effect(control, treatment, *, metric: str = "metric", arms: tuple[str, str] = ("control", "treatment"),
                        alpha: float = 0.05, label: str = "") -> Effect:
    """Mann-Whitney U test; the estimate is P(treated > control) + P(tie) / 2 (0.5 under no effect).

    Asymptotic p-value with tie correction and continuity correction (scipy's
    ``mannwhitneyu(treatment, control, method="asymptotic")``). Arm values are the medians.

    Returns
    -------
    Effect
        Method ``mann_whitney_u``; no interval, no lift.
    """
    c, t = _values(control), _values(treatment)
    result = stats.mannwhitneyu(t, c, alternative="two-sided", use_continuity=True, method="asymptotic")
    superiority = float(result.statistic) / (c.size * t.size)
    return Effect(metric, arms[0], arms[1],
                  "mann_whitney_u: Mann-Whitney U test, normal approximation with tie and continuity corrections",
                  "P(treatment value > control value) + P(tie) / 2", c.size, t.size, float(np.median(c)),
                  float(np.median(t)), superiority, None, None, None, float(result.pvalue), alpha=alpha, label=label,
                  extra={"u_statistic": float(result.statistic), "arm_values": "medians"})


def bootstrap_effect(control, treatment, *, statistic: str = "mean", n_resamples: int = 2000, seed: int = 2026,
                     metric: str = "metric", arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05,
                     label: str = "") -> Effect:
    """Percentile bootstrap interval of the difference in a statistic, resampling units within each arm.

    Parameters
    ----------
    control, treatment : array-like
    statistic : {"mean", "median", "trimmed mean (10%)"}
    n_resamples : int
    seed : int
        The same seed and data give the same interval, to the last digit.
    metric, arms, alpha, label

    Returns
    -------
    Effect
        Method ``bootstrap_percentile``; ``se`` is the SD of the resampled differences; no p-value.
    """
    function = STATISTICS[statistic]
    c, t = _values(control), _values(treatment)
    # One stream per arm: the resamples do not depend on how many are drawn at once.
    control_draws, treatment_draws = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    differences = np.empty(n_resamples)
    # Blocks of about BLOCK_INDICES indices an arm: larger ones cost more in first touches of fresh memory
    # (seconds in a new kernel, at 20 million) than they save in loop turns.
    block = max(1, BLOCK_INDICES // max(c.size, t.size))
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        resampled_c = c[control_draws.integers(0, c.size, size=(size, c.size))]
        resampled_t = t[treatment_draws.integers(0, t.size, size=(size, t.size))]
        differences[start:start + size] = function(resampled_t, axis=1) - function(resampled_c, axis=1)
    low, high = (float(q) for q in percentile_interval(differences, alpha))
    value_c, value_t = float(function(c, axis=0)), float(function(t, axis=0))
    return Effect(metric, arms[0], arms[1],
                  f"bootstrap_percentile: {n_resamples} resamples of units within each arm, seed {seed}, "
                  "percentile interval",
                  f"difference in {statistic}s (treatment - control)", c.size, t.size, value_c, value_t,
                  value_t - value_c, float(differences.std(ddof=1)), low, high, None, alpha=alpha, label=label,
                  extra={"n_resamples": n_resamples, "seed": seed, "statistic": statistic})


def robust_effects(control, treatment, *, metric: str = "metric", arms: tuple[str, str] = ("control", "treatment"),
                   alpha: float = 0.05, upper: float = 0.99, trim: float = 0.1, n_resamples: int = 2000,
                   seed: int = 2026, label: str = "", bootstrap_max_units: int | None = None) -> list[Effect]:
    """The plain Welch test and its robust alternatives, in one list for one table.

    Parameters
    ----------
    bootstrap_max_units : int, optional
        Leave the bootstrap out when the arms hold more units than this. Its cost grows with
        units × resamples (minutes at millions of units), while with that many units the
        normal-theory intervals of the other rows are already accurate.

    Returns
    -------
    list of Effect
        ``welch_t``, ``winsorized_welch_t``, ``yuen_t``, ``mann_whitney_u`` and, unless left out,
        ``bootstrap_percentile``.
    """
    c, t = _values(control), _values(treatment)
    common = {"metric": metric, "arms": arms, "alpha": alpha, "label": label}
    effects = [
        mean_effect(Moments.from_arrays(c), Moments.from_arrays(t), **common),
        winsorized_effect(c, t, upper=upper, **common),
        trimmed_effect(c, t, trim=trim, **common),
        mann_whitney_effect(c, t, **common),
    ]
    if bootstrap_max_units is None or c.size + t.size <= bootstrap_max_units:
        effects.append(bootstrap_effect(c, t, n_resamples=n_resamples, seed=seed, **common))
    return effects


# A lognormal with sigma 1 has excess kurtosis 111, an exponential 6, a normal 0: above 20 the mean
# rests on a few units, and the robust comparisons are added whether or not the column map asks for them.
HEAVY_TAIL_KURTOSIS = 20.0
ROBUST_BOOTSTRAP_MAX_UNITS = 200_000  # above it the normal-theory rows are accurate and the bootstrap slow


def heavy_tailed(values: pd.Series) -> bool:
    """A metric whose excess kurtosis exceeds :data:`HEAVY_TAIL_KURTOSIS`: a few units can decide its mean."""
    # Sorted: the kurtosis's sums, to the last bit, do not depend on the order an engine gave the rows in.
    numbers = pd.Series(np.sort(pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)))
    return numbers.nunique() > 2 and bool(numbers.kurt() > HEAVY_TAIL_KURTOSIS)


def robust_comparisons(frame: pd.DataFrame, metrics: list[str], arm: str, control: str, alpha: float = 0.05) -> list[Effect]:
    """:func:`robust_effects` of each metric, every treatment arm of ``frame[arm]`` against ``control``.

    Each arm's values are sorted first: the bootstrap resamples positions, so its interval would otherwise
    depend on the rows' order, which an engine (Spark) does not keep.
    """
    out = []
    arms = frame[arm].astype(str)
    for metric in metrics:
        values = pd.to_numeric(frame[metric], errors="coerce")
        reference = np.sort(values[arms == control].dropna().to_numpy(dtype=float))
        for treatment in sorted(set(arms.dropna()) - {control}):
            treated = np.sort(values[arms == treatment].dropna().to_numpy(dtype=float))
            out += robust_effects(reference, treated, metric=metric, arms=(control, treatment),
                                  alpha=alpha, bootstrap_max_units=ROBUST_BOOTSTRAP_MAX_UNITS)
    return out
