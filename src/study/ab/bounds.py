"""Lee (2009) bounds: a treatment effect on an outcome seen only for units that responded.

When treatment changes who responds (who answers a satisfaction survey, say), the respondents of
the two arms are no longer comparable and the difference of their means is not an effect. Under
monotonicity (treatment moves response in one direction only), the units that respond in the arm
with the lower response share are "always-responders", and they make up
``p_low / p_high`` of the respondents of the other arm. Trimming the excess share
``q = 1 - p_low / p_high`` of that arm's respondents from the top (or the bottom) gives the
smallest (largest) mean the always-responders there can have, hence sharp lower and upper bounds
of the effect for always-responders (Lee 2009, "Training, wages, and sample selection",
Review of Economic Studies 76:1071-1102).

Inference: each bound's standard error from its influence function (trimmed mean with estimated
cut-off, the estimated trimming share, the untrimmed arm's mean; Lee 2009, Proposition 3), and the
Imbens and Manski (2004, Econometrica 72:1845-1857) interval, which covers the true effect, not
the whole identified set, with probability at least ``1 - alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from study.core.inference import critical_value


@dataclass(frozen=True)
class LeeBounds:
    """Bounds of the effect for always-responders, and an interval for it.

    Attributes
    ----------
    lower, upper : float
        Estimated bounds (treatment minus control).
    se_lower, se_upper : float
        Their standard errors.
    ci_low, ci_high : float
        Imbens-Manski interval for the effect, level ``1 - alpha``.
    alpha : float
    trimmed_arm : str
        ``"treatment"``, ``"control"`` or ``"none"`` (equal response shares).
    trim_share : float
        Share ``q`` of that arm's respondents trimmed.
    response_control, response_treatment : float
        Response shares.
    n_control, n_treatment : int
        Units per arm (respondents or not).
    respondents_control, respondents_treatment : int
    naive_difference : float
        Difference of the respondents' means, what the bounds replace.
    method : str
    """

    lower: float
    upper: float
    se_lower: float
    se_upper: float
    ci_low: float
    ci_high: float
    alpha: float
    trimmed_arm: str
    trim_share: float
    response_control: float
    response_treatment: float
    n_control: int
    n_treatment: int
    respondents_control: int
    respondents_treatment: int
    naive_difference: float
    method: str

    def covers(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high


@dataclass(frozen=True)
class _Trimmed:
    """Mean of the kept share of sorted values, with what its variance needs."""

    mean: float
    variance: float  # of the mean, trimming share held fixed
    slope: float  # d mean / d q


def _trimmed(values: np.ndarray, q: float, keep: str) -> _Trimmed:
    """Keep the lowest (``keep="low"``) or highest ``1 - q`` share of ``values``.

    The share is exact: the observation at the cut gets a fractional weight, so ties and small
    samples trim exactly ``q`` of the respondents.
    """
    y = np.sort(values) if keep == "low" else -np.sort(-values)
    m = len(y)
    kept = (1 - q) * m
    weights = np.clip(kept - np.arange(m), 0.0, 1.0)
    mean = float(np.sum(weights * y) / kept)
    if q == 0:
        return _Trimmed(mean, float(np.var(y, ddof=1)) / m, 0.0)
    cut = float(y[min(math.floor(kept), m - 1)] if kept % 1 else y[int(kept) - 1])
    spread = float(np.sum(weights * (y - mean) ** 2) / kept)
    # Influence function of a trimmed mean with its cut-off estimated: the kept values' spread plus
    # q times the squared distance of their mean to the cut (the cut's own noise).
    variance = (spread + q * (mean - cut) ** 2) / ((1 - q) * m)
    return _Trimmed(mean, variance, (mean - cut) / (1 - q))


def lee_bounds(control: np.ndarray, treatment: np.ndarray, *, alpha: float = 0.05) -> LeeBounds:
    """Lee bounds of the effect of treatment on an outcome observed only for respondents.

    Parameters
    ----------
    control, treatment : array-like
        One value per randomized unit; ``NaN`` where the outcome was not observed (no response).
    alpha : float
        One minus the level of the Imbens-Manski interval.

    Returns
    -------
    LeeBounds

    Notes
    -----
    Assumes monotonicity: no unit responds under control that would not respond under treatment,
    or the reverse. With equal response shares nothing is trimmed and both bounds are the plain
    difference of respondents' means.
    """
    arms = {}
    for name, values in (("control", control), ("treatment", treatment)):
        values = np.asarray(values, dtype=float)
        seen = values[~np.isnan(values)]
        if len(seen) < 2:
            raise ValueError(f"{name}: need at least 2 respondents, got {len(seen)}")
        arms[name] = (len(values), seen)
    (n_c, y_c), (n_t, y_t) = arms["control"], arms["treatment"]
    p_c, p_t = len(y_c) / n_c, len(y_t) / n_t
    if p_t >= p_c:
        trimmed_arm, (n_hi, y_hi, p_hi), (n_lo, y_lo, p_lo), sign = "treatment", (n_t, y_t, p_t), (n_c, y_c, p_c), 1.0
    else:
        trimmed_arm, (n_hi, y_hi, p_hi), (n_lo, y_lo, p_lo), sign = "control", (n_c, y_c, p_c), (n_t, y_t, p_t), -1.0
    q = 1 - p_lo / p_hi
    if p_c == p_t:
        trimmed_arm, q = "none", 0.0
    ratio = p_lo / p_hi
    var_q = ratio**2 * ((1 - p_lo) / (n_lo * p_lo) + (1 - p_hi) / (n_hi * p_hi))
    other_mean, other_var = float(np.mean(y_lo)), float(np.var(y_lo, ddof=1)) / len(y_lo)

    def bound(keep: str) -> tuple[float, float]:
        part = _trimmed(y_hi, q, keep)
        value = sign * (part.mean - other_mean)
        return value, math.sqrt(part.variance + part.slope**2 * var_q + other_var)

    # Trimming the treatment arm from the top keeps its lowest values: the lower bound. Trimming the
    # control arm from the top keeps its lowest values too, but control enters with a minus sign.
    low_keep, high_keep = ("low", "high") if sign > 0 else ("high", "low")
    (lower, se_lower), (upper, se_upper) = bound(low_keep), bound(high_keep)
    ci_low, ci_high = imbens_manski(lower, upper, se_lower, se_upper, alpha)
    method = ("lee_bounds: respondents of the arm with the higher response share trimmed by the excess share "
              "(fractional at the cut), influence-function standard errors, Imbens-Manski interval")
    return LeeBounds(lower, upper, se_lower, se_upper, ci_low, ci_high, alpha, trimmed_arm, q, p_c, p_t, n_c, n_t,
                     len(y_c), len(y_t), float(np.mean(y_t) - np.mean(y_c)), method)


def imbens_manski(lower: float, upper: float, se_lower: float, se_upper: float, alpha: float = 0.05) -> tuple[float, float]:
    """Interval for a partially identified effect in ``[lower, upper]`` (Imbens and Manski 2004).

    ``[lower - c se_lower, upper + c se_upper]`` with ``c`` solving
    ``Phi(c + (upper - lower) / max(se)) - Phi(-c) = 1 - alpha``: ``c`` is the two-sided critical
    value when the bounds coincide and falls towards the one-sided one as they separate, since the
    true effect can then be near only one of them.
    """
    if not max(se_lower, se_upper) > 0:  # no sampling noise (e.g. an outcome with one value): the bounds themselves
        return float(lower), float(upper)
    width = max(upper - lower, 0.0) / max(se_lower, se_upper)
    two_sided, one_sided = critical_value(alpha), critical_value(2 * alpha)
    gap = lambda c: stats.norm.cdf(c + width) - stats.norm.cdf(-c) - (1 - alpha)
    c = two_sided if width == 0 else optimize.brentq(gap, one_sided - 1e-9, two_sided + 1e-9, xtol=1e-13)
    return float(lower - c * se_lower), float(upper + c * se_upper)
