"""The trend of a weekly indicator: least-squares slope on the week number, Newey-West (HAC) standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

from study.core.inference import Interval
from study.core.weeks import newey_west_lags


@dataclass(frozen=True)
class Trend:
    """A straight line through the weekly values.

    Attributes
    ----------
    slope, se, ci_low, ci_high, p_value : float
        Change per week, its HAC standard error, its interval (t with weeks - 2 degrees of freedom)
        and the p-value of no trend.
    weeks : int
        Weekly values fitted.
    span : int
        Weeks from the first to the last one fitted (the period the change over the period spans).
    maxlags : int
        Newey-West lags: floor(4 (weeks / 100)^(2/9)).
    level : float
        Confidence level.
    """

    slope: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    weeks: int
    span: int
    maxlags: int
    level: float

    @property
    def df(self) -> int:
        return self.weeks - 2

    def over_period(self) -> tuple[float, float, float, float]:
        """Change over the period (slope x span), its standard error and interval."""
        return self.slope * self.span, self.se * self.span, self.ci_low * self.span, self.ci_high * self.span

    def interval(self) -> Interval:
        return Interval("wald", df=self.df)



def weekly_trend(week_number: np.ndarray, values: np.ndarray, alpha: float = 0.05) -> Trend:
    """OLS of the weekly values on the week number, HAC (Bartlett kernel) standard errors.

    Weeks count equally (each is one reading of the indicator), so a busy sale week does not pull the
    line more than a quiet one. Weeks set aside leave gaps in ``week_number``, which the slope respects.
    The interval uses t with weeks - 2 degrees of freedom; with 20-30 weeks and autocorrelated weeks,
    HAC intervals still run somewhat narrow (the notes say so).

    Parameters
    ----------
    week_number : numpy.ndarray
        Weeks since the first week (0, 1, 2, ...).
    values : numpy.ndarray
    alpha : float

    Returns
    -------
    Trend
    """
    x = np.asarray(week_number, float)
    y = np.asarray(values, float)
    lags = newey_west_lags(len(y))
    fit = OLS(y, add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True},
                                      use_t=True)
    low, high = fit.conf_int(alpha)[1]
    return Trend(float(fit.params[1]), float(fit.bse[1]), float(low), float(high), float(fit.pvalues[1]), len(y),
                 int(x.max() - x.min()), lags, 1 - alpha)
