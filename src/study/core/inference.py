"""Where a significance level becomes a critical value, an interval and a p-value: the one place.

Every Wald-type interval and two-sided p-value of the project is computed here, from an estimate,
its standard error and, for small samples, its degrees of freedom, so that a confidence level means
the same thing in every analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


def critical_value(alpha: float, df: float | None = None) -> float:
    """Two-sided critical value at level ``alpha``: normal, or Student's t with ``df`` degrees of freedom.

    Parameters
    ----------
    alpha : float
        One minus the confidence level, in (0, 1).
    df : float, optional
        Degrees of freedom; ``None`` or infinite gives the normal quantile.

    Examples
    --------
    >>> round(critical_value(0.05), 4)
    1.96
    >>> round(critical_value(0.05, df=9), 4)
    2.2622
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha}")
    if df is None or math.isinf(df):
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, df))


def wald_interval(value: float, se: float, alpha: float, df: float | None = None) -> tuple[float, float]:
    """``value ± critical_value(alpha, df) * se``."""
    half = critical_value(alpha, df) * se
    return float(value - half), float(value + half)


def wald_p_value(value: float, se: float, df: float | None = None) -> float:
    """Two-sided p-value of the null of zero for ``value / se``, normal or Student's t reference."""
    z = abs(value / se)
    if df is None or math.isinf(df):
        return float(2 * stats.norm.sf(z))
    return float(2 * stats.t.sf(z, df))


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
    """

    kind: str = "wald"
    df: float | None = None
    center: float | None = None
    log_se: float | None = None
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)

    def bounds(self, value: float, se: float | None, alpha: float) -> tuple[float, float]:
        """The interval at level ``1 - alpha``."""
        if self.kind == "wald":
            return wald_interval(value, se, alpha, self.df)
        if self.kind == "log_wald":
            low, high = wald_interval(self.center, self.log_se, alpha, self.df)
            return math.exp(low), math.exp(high)
        if self.kind == "percentile":
            low, high = percentile_interval(self.draws, alpha)
            return float(low), float(high)
        raise ValueError(f"unknown interval kind {self.kind!r}")


WALD = Interval()  # a normal-reference Wald interval
