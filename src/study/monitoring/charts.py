"""Control-chart arithmetic on weekly aggregates: p-chart, X-bar chart, Laney's adjustment and the EWMA.

Every function takes per-week arrays (sample sizes, values, within-week standard deviations) and
returns limits; nothing here knows about tickets or columns. The formulas are Montgomery's
(*Introduction to Statistical Quality Control*, 7th ed.): the p-chart with variable sample size
(section 7.2.2), the X-bar chart with variable sample size and sigma from the pooled within-sample
standard deviation (section 6.3.1), and the EWMA with its exact time-varying limits (section 9.2);
Laney's p' chart (Laney 2002, *Quality Engineering* 14:531) widens the limits by the between-week
spread that the within-week standard error does not explain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

D2_TWO = 1.128  # d2 for moving ranges of two points: sigma = mean moving range / d2


@dataclass(frozen=True)
class Dispersion:
    """Whether the baseline weeks vary more than their within-week standard errors allow.

    Attributes
    ----------
    test : str
        ``Pearson chi-square`` (rates: homogeneity of the weekly proportions) or ``one-way ANOVA F``
        (means: between-week against within-week variance).
    statistic, df, p_value : float
        The test; ``df`` is the numerator's degrees of freedom (weeks - 1).
    ratio : float
        The statistic over its null mean (1 when weeks vary as sampling alone makes them).
    sigma_z : float
        Laney's sigma_z: the mean moving range of the weeks' z-scores over 1.128.
    """

    test: str
    statistic: float
    df: float
    p_value: float
    ratio: float
    sigma_z: float


@dataclass(frozen=True)
class Limits:
    """Center and per-week control limits of a Shewhart chart.

    Attributes
    ----------
    kind : str
        ``p``, ``Laney p'``, ``X-bar`` or ``Laney X-bar'``.
    center : float
    sigma : float
        The per-ticket standard deviation the limits use (sqrt(p(1-p)) for a rate, the pooled
        within-week standard deviation for a mean), before Laney's factor.
    sigma_z : float
        Laney's factor (1 for the textbook charts).
    se : numpy.ndarray
        Each week's standard error of its value: sigma * sigma_z / sqrt(n).
    lower, upper : numpy.ndarray
        center -/+ L * se (a rate's limits clipped to [0, 1]).
    """

    kind: str
    center: float
    sigma: float
    sigma_z: float
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def c4(n: float) -> float:
    """Montgomery's c4: E[s] = c4 sigma for a standard deviation with n - 1 degrees of freedom."""
    return float(math.sqrt(2.0 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2)))


def pooled_sd(n: np.ndarray, sd: np.ndarray) -> float:
    """Sigma from within-week variation: Montgomery's s-bar for variable sample sizes, divided by c4.

    s-bar = sqrt(sum((n_i - 1) s_i^2) / (sum(n_i) - m)); with thousands of degrees of freedom c4 is 1 to
    the fifth decimal, with a team's few hundred it still corrects the small bias of a standard deviation.
    """
    n, sd = np.asarray(n, float), np.asarray(sd, float)
    df = float(n.sum() - len(n))
    s_bar = math.sqrt(float(((n - 1) * sd**2).sum()) / df)
    return s_bar / c4(df + 1)


def laney_sigma_z(values: np.ndarray, center: float, se: np.ndarray) -> float:
    """Laney's sigma_z: z_i = (value_i - center) / se_i; sigma_z = mean |z_i - z_(i-1)| / 1.128."""
    z = (np.asarray(values, float) - center) / np.asarray(se, float)
    return float(np.abs(np.diff(z)).mean() / D2_TWO) if len(z) > 1 else math.nan


def rate_dispersion(events: np.ndarray, n: np.ndarray) -> Dispersion:
    """Pearson's chi-square test that the weeks share one proportion (the 2 x k table's statistic)."""
    events, n = np.asarray(events, float), np.asarray(n, float)
    p_bar = events.sum() / n.sum()
    se = np.sqrt(p_bar * (1 - p_bar) / n)
    statistic = float((((events / n - p_bar) / se) ** 2).sum())
    df = len(n) - 1
    return Dispersion("Pearson chi-square", statistic, df, float(stats.chi2.sf(statistic, df)), statistic / df,
                      laney_sigma_z(events / n, p_bar, se))


def mean_dispersion(n: np.ndarray, means: np.ndarray, sd: np.ndarray) -> Dispersion:
    """One-way ANOVA F test that the weeks share one mean (between-week against pooled within-week variance)."""
    n, means, sd = (np.asarray(a, float) for a in (n, means, sd))
    grand = float((n * means).sum() / n.sum())
    k, total = len(n), float(n.sum())
    between = float((n * (means - grand) ** 2).sum()) / (k - 1)
    within = float(((n - 1) * sd**2).sum()) / (total - k)
    statistic = between / within
    return Dispersion("one-way ANOVA F", statistic, k - 1, float(stats.f.sf(statistic, k - 1, total - k)), statistic,
                      laney_sigma_z(means, grand, math.sqrt(within) / np.sqrt(n)))


def p_chart(p_bar: float, n: np.ndarray, width: float = 3.0, sigma_z: float = 1.0) -> Limits:
    """p-chart limits p-bar -/+ width * sigma_z * sqrt(p-bar (1 - p-bar) / n_t), clipped to [0, 1].

    ``sigma_z`` 1 is the textbook chart; Laney's sigma_z makes it the p' chart.
    """
    sigma = math.sqrt(p_bar * (1 - p_bar))
    se = sigma * sigma_z / np.sqrt(np.asarray(n, float))
    kind = "p" if sigma_z == 1.0 else "Laney p'"
    return Limits(kind, p_bar, sigma, sigma_z, se, np.clip(p_bar - width * se, 0, 1), np.clip(p_bar + width * se, 0, 1))


def xbar_chart(center: float, sigma: float, n: np.ndarray, width: float = 3.0, sigma_z: float = 1.0) -> Limits:
    """X-bar limits center -/+ width * sigma_z * sigma / sqrt(n_t) (sigma: :func:`pooled_sd` of the baseline)."""
    se = sigma * sigma_z / np.sqrt(np.asarray(n, float))
    kind = "X-bar" if sigma_z == 1.0 else "Laney X-bar'"
    return Limits(kind, center, sigma, sigma_z, se, center - width * se, center + width * se)


def ewma(values: np.ndarray, n: np.ndarray, center: float, sigma: float, lam: float = 0.2,
         width: float = 3.0, baseline: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EWMA z_t = lam x_t + (1 - lam) z_(t-1), z_0 = center, with exact time-varying limits.

    With week t's value having variance sigma^2 / n_t, Var(z_t) = sigma^2 sum_i lam^2 (1 - lam)^(2 (t - i)) / n_i;
    with a constant n this is Montgomery's sigma^2 / n * lam / (2 - lam) * (1 - (1 - lam)^(2t)).

    Parameters
    ----------
    values, n : numpy.ndarray
        Weekly values and their sample sizes.
    center, sigma : float
        Center line and per-observation standard deviation.
    lam, width : float
        The newest week's weight and the limits' width L.
    baseline : numpy.ndarray, optional
        Each week's weight in the estimated center (n_i / sum of the baseline's n, 0 outside it). Given, the
        limits allow for the center's own error: z_t - center = sum_i a_ti x_i with
        a_ti = lam (1 - lam)^(t - i) [i <= t] - (1 - (1 - lam)^t) w_i, so Var = sigma^2 sum_i a_ti^2 / n_i. An EWMA
        averages about (2 - lam) / lam weeks, as many as a short baseline holds, so without this a stable
        series crosses textbook limits far more often than their nominal rate.

    Returns
    -------
    z, lower, upper : numpy.ndarray
    """
    values, n = np.asarray(values, float), np.asarray(n, float)
    k = len(values)
    t = np.arange(1, k + 1)
    # a[t, i]: the weight of week i's value in z_t
    a = np.tril(lam * (1 - lam) ** (t[:, None] - t[None, :]).clip(min=0))
    z = a @ values + (1 - lam) ** t * center
    if baseline is not None:
        a = a - (1 - (1 - lam) ** t)[:, None] * np.asarray(baseline, float)[None, :]
    half = width * sigma * np.sqrt((a**2 / n[None, :]).sum(axis=1))
    return z, center - half, center + half
