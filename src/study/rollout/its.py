"""Interrupted time series: a change that went live everywhere in the same week, with no team left to compare.

Weekly means (over all teams, weighted by tickets) are regressed on a straight-line trend, a jump at the
adoption week (level change) and a change of slope after it; with a year or more of weeks, one pair of
yearly Fourier terms absorbs the season. Weekly cells already average the day-of-week cycle. Standard
errors are Newey-West (HAC), because neighbouring weeks share shocks.

Weeks of unusual ticket volume (sale peaks; :func:`study.core.weeks.unusual_volume` over all the weeks) get a
level of their own, so a peak after go-live is not read as the change's effect, nor one before it as the trend.

Its assumption: without the change, the trend of the weeks before would have continued. Any other change in
the same weeks that leaves no mark on the volume is read as part of the effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import WLS

from study.core.inference import Interval, wald_interval, wald_p_value
from study.core.results import Estimate
from study.core.weeks import newey_west_lags, unusual_volume
from study.rollout.panel import OUTCOMES

MIN_WEEKS_BEFORE = 8  # a trend and its noise need a few weeks more than its two coefficients
MIN_WEEKS_AFTER = 4
YEAR_WEEKS = 52


@dataclass
class SegmentedFit:
    """A segmented regression of one outcome: its weekly series, the statsmodels fit and the estimates."""

    outcome: str
    weekly: pd.DataFrame
    fit: object
    level: Estimate
    slope: Estimate
    average: Estimate
    maxlags: int
    seasonal: bool


def weekly_series(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per week: ``period``, ``y`` (ticket-weighted mean over the cells), ``w`` (count), ``treat``, ``tickets``."""
    frame = cells.assign(wy=cells["w"] * cells["y"])
    weekly = frame.groupby("period", sort=True).agg(week=("week", "first"), wy=("wy", "sum"), w=("w", "sum"),
                                                    treat=("treat", "max"), tickets=("tickets", "sum"))
    weekly["y"] = weekly["wy"] / weekly["w"]
    return weekly.drop(columns="wy").reset_index()



def design(weekly: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Columns of the segmented regression: ``const``, ``trend``, ``level``, ``slope``, one indicator per week of
    unusual volume (``peak YYYY-MM-DD``), and ``sin``/``cos`` over a year."""
    start = weekly.loc[weekly["treat"] == 1, "period"].min()
    x = pd.DataFrame({"const": 1.0, "trend": weekly["period"].astype(float), "level": weekly["treat"].astype(float)})
    x["slope"] = x["level"] * (weekly["period"] - start).astype(float)
    unusual = unusual_volume(weekly["tickets"]) != ""
    for row in np.flatnonzero(unusual.to_numpy()):
        x[f"peak {pd.Timestamp(weekly['week'].iloc[row]):%Y-%m-%d}"] = (np.arange(len(weekly)) == row).astype(float)
    seasonal = len(weekly) >= YEAR_WEEKS
    if seasonal:
        angle = 2 * np.pi * weekly["period"].to_numpy(dtype=float) / YEAR_WEEKS
        x["sin"], x["cos"] = np.sin(angle), np.cos(angle)
    return x, seasonal


def problem(weekly: pd.DataFrame) -> str | None:
    """Too few weeks before or after the change for a trend and its break."""
    before, after = int((weekly["treat"] == 0).sum()), int((weekly["treat"] == 1).sum())
    if before < MIN_WEEKS_BEFORE or after < MIN_WEEKS_AFTER:
        return (f"{before} week(s) before the change and {after} after: a segmented regression needs at least "
                f"{MIN_WEEKS_BEFORE} before and {MIN_WEEKS_AFTER} after")
    return None


def segmented(cells: pd.DataFrame, outcome: str, alpha: float) -> SegmentedFit:
    """The level change, slope change and average effect over the weeks after, with HAC standard errors."""
    weekly = weekly_series(cells)
    x, seasonal = design(weekly)
    lags = newey_west_lags(len(weekly))
    fit = WLS(weekly["y"].to_numpy(), x, weights=weekly["w"].to_numpy()).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    df = float(fit.df_resid)
    words = OUTCOMES[outcome][0]
    method = (f"segmented regression of weekly means (weights: tickets), a level for each week of unusual volume, "
              f"Newey-West HAC errors with {lags} lag(s) and the small-sample correction, t with {df:g} df")
    after = weekly["treat"] == 1
    contrast = np.zeros(len(x.columns))
    contrast[list(x.columns).index("level")] = 1.0
    contrast[list(x.columns).index("slope")] = float(x.loc[after, "slope"].mean())
    average_value = float(contrast @ fit.params.to_numpy())
    average_se = float(np.sqrt(contrast @ fit.cov_params().to_numpy() @ contrast))
    peaks = [c.removeprefix("peak ") for c in x.columns if c.startswith("peak ")]

    def estimate(name: str, label: str, value: float, se: float) -> Estimate:
        low, high = wald_interval(value, se, alpha, df)
        return Estimate(name, label, value, se, low, high, wald_p_value(value, se, df), int(weekly["w"].sum()), method,
                        1 - alpha, {"weeks_before": int((~after).sum()), "weeks_after": int(after.sum()),
                                    "seasonal_terms": seasonal, "unusual_weeks": peaks},
                        "y_week ~ trend + level + slope" + "".join(f" + [{p}]" for p in peaks) +
                        (" + sin + cos (52 weeks)" if seasonal else ""), Interval("wald", df=df))

    return SegmentedFit(
        outcome, weekly, fit,
        estimate(f"rollout_its_level_{outcome}", f"{words}: jump at the change (interrupted time series)",
                 float(fit.params["level"]), float(fit.bse["level"])),
        estimate(f"rollout_its_slope_{outcome}", f"{words}: change of weekly slope after the change (interrupted time series)",
                 float(fit.params["slope"]), float(fit.bse["slope"])),
        estimate(f"rollout_its_{outcome}", f"{words}: average difference from the continued trend over the weeks after "
                 "(interrupted time series)", average_value, average_se),
        lags, seasonal)
