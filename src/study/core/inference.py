"""Where a significance level becomes a critical value, an interval and a p-value: the one place.

Every Wald-type interval and p-value of the project is computed here, from an estimate, its
standard error and, for small samples, its degrees of freedom, so that a confidence level means the
same thing in every analysis.

Tests are two-sided unless an ``alternative`` says otherwise: ``"greater"`` tests the null of zero
against a positive value (p-value ``P(T >= t)``, interval ``[value - q(1 - alpha) se, +inf)``),
``"less"`` against a negative one (p-value ``P(T <= t)``, interval ``(-inf, value + q(1 - alpha) se]``),
the conventions of scipy's ``ttest_ind(alternative=...)`` and statsmodels' ``alternative=``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")


def check_alternative(alternative: str) -> str:
    """``alternative`` itself, or a ValueError naming the three accepted values."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")
    return alternative


def critical_value(alpha: float, df: float | None = None, sides: int = 2) -> float:
    """Critical value at level ``alpha``: normal, or Student's t with ``df`` degrees of freedom.

    Parameters
    ----------
    alpha : float
        One minus the confidence level, in (0, 1).
    df : float, optional
        Degrees of freedom; ``None`` or infinite gives the normal quantile.
    sides : {2, 1}
        Two-sided (quantile ``1 - alpha / 2``) or one-sided (quantile ``1 - alpha``).

    Examples
    --------
    >>> round(critical_value(0.05), 4)
    1.96
    >>> round(critical_value(0.05, df=9), 4)
    2.2622
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha}")
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, not {sides}")
    # scipy.special, not scipy.stats: the same functions stats.norm and stats.t call (bit for bit, tested), without
    # the 0.7 s import of scipy.stats that a run's index, which reads results and writes verdicts, does not need.
    from scipy import special

    quantile = 1 - alpha if sides == 1 else 1 - alpha / 2
    if df is None or math.isinf(df):
        return float(-special.ndtri(alpha) if sides == 1 else special.ndtri(quantile))
    return float(-special.stdtrit(df, alpha) if sides == 1 else special.stdtrit(df, quantile))


def wald_interval(value: float, se: float, alpha: float, df: float | None = None,
                  alternative: Alternative = "two-sided") -> tuple[float, float]:
    """``value ± critical_value(alpha, df) * se``; one-sided: one bound at ``q(1 - alpha)``, the other infinite.

    Parameters
    ----------
    value, se : float
        Estimate and its standard error.
    alpha : float
        One minus the confidence level.
    df : float, optional
        Degrees of freedom; ``None`` or infinite gives the normal reference.
    alternative : {"two-sided", "greater", "less"}
        ``"greater"`` gives ``[low, inf)``, ``"less"`` gives ``(-inf, high]``.

    Returns
    -------
    tuple of float
    """
    if check_alternative(alternative) == "two-sided":
        half = critical_value(alpha, df) * se
        return float(value - half), float(value + half)
    half = critical_value(alpha, df, sides=1) * se
    if alternative == "greater":
        return float(value - half), math.inf
    return -math.inf, float(value + half)


def wald_p_value(value: float, se: float, df: float | None = None, alternative: Alternative = "two-sided") -> float:
    """P-value of the null of zero for ``value / se``, normal or Student's t reference.

    Parameters
    ----------
    value, se : float
    df : float, optional
        Degrees of freedom; ``None`` or infinite gives the normal reference.
    alternative : {"two-sided", "greater", "less"}
        Two-sided ``P(|T| >= |t|)``, ``P(T >= t)`` or ``P(T <= t)``.

    Returns
    -------
    float
    """
    from scipy import stats

    if check_alternative(alternative) == "two-sided":
        z = abs(value / se)
        if df is None or math.isinf(df):
            return float(2 * stats.norm.sf(z))
        return float(2 * stats.t.sf(z, df))
    reference = stats.norm if df is None or math.isinf(df) else stats.t(df)
    z = value / se
    return float(reference.sf(z) if alternative == "greater" else reference.cdf(z))


def percentile_interval(draws: np.ndarray, alpha: float, axis: int | None = None) -> tuple:
    """The ``alpha/2`` and ``1 - alpha/2`` quantiles of bootstrap draws (along ``axis``)."""
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=axis)
    return low, high


@dataclass(frozen=True)
class Interval:
    """How an estimate's interval was made, so that it can be made again at another level.

    Attributes
    ----------
    kind : str
        ``wald`` (value ± critical value × se, normal or t with ``df``), ``log_wald`` (a Wald
        interval of ``center`` with ``log_se`` on the log scale, exponentiated) or ``percentile``
        (quantiles of the bootstrap ``draws``).
    df : float, optional
    center, log_se : float, optional
    draws : numpy.ndarray, optional
    limits : tuple of float, optional
        The parameter's own range, to which a Wald interval is clipped (a difference of shares: -1 to 1).
    """

    kind: str = "wald"
    df: float | None = None
    center: float | None = None
    log_se: float | None = None
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)
    limits: tuple[float, float] | None = None

    def bounds(self, value: float, se: float | None, alpha: float) -> tuple[float, float]:
        """The interval at level ``1 - alpha``."""
        if self.kind == "wald":
            low, high = wald_interval(value, se, alpha, self.df)
            return (max(low, self.limits[0]), min(high, self.limits[1])) if self.limits else (low, high)
        if self.kind == "log_wald":
            low, high = wald_interval(self.center, self.log_se, alpha, self.df)
            return math.exp(low), math.exp(high)
        if self.kind == "percentile":
            low, high = percentile_interval(self.draws, alpha)
            return float(low), float(high)
        raise ValueError(f"unknown interval kind {self.kind!r}")


WALD = Interval()  # a normal-reference Wald interval
