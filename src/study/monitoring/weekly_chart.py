"""One indicator's weekly chart for one set of tickets (all of them, or one team's): weeks, limits, signals, trend."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.monitoring import charts
from study.monitoring.indicators import Indicator, standard_errors, weekly
from study.monitoring.trend import Trend, weekly_trend


@dataclass(frozen=True)
class Settings:
    """How the charts are drawn (the analysis's parameters).

    Attributes
    ----------
    baseline_weeks : int
        The first this many full weeks (not a known event's, nor of unusual volume) set the center and sigma.
    alpha : float
        Level of the dispersion test that chooses Laney's chart, and 1 - the trend interval's level.
    min_week_n : int
        A week with fewer contributing rows than this is set aside for that indicator (and counted).
    width : float
        Shewhart limits at center -/+ width standard errors (3: a stable week falls outside 0.27% of the time).
    lam, ewma_width : float
        The EWMA's weight of the newest week and its limits' width L.
    events : dict
        Week (Monday) -> what happened that week (a sale, an outage), known in advance: kept out of the
        baseline and named beside a signal in that week.
    allow_for_baseline : bool
        Whether the EWMA's limits allow for the error of the center estimated from the baseline weeks
        (:func:`study.monitoring.charts.ewma`); False gives Montgomery's limits for a known center.
    """

    baseline_weeks: int = 8
    alpha: float = 0.05
    min_week_n: int = 20
    width: float = 3.0
    lam: float = 0.2
    ewma_width: float = 3.0
    events: dict = field(default_factory=dict)
    allow_for_baseline: bool = True


@dataclass(frozen=True)
class IndicatorChart:
    """An indicator charted week by week.

    Attributes
    ----------
    indicator : Indicator
    unit : str
        ``all tickets`` or the team's id.
    table : pandas.DataFrame
        One row per charted week (indexed by its Monday): ``n``, ``value``, ``se`` (within-week), ``center``,
        ``lower``, ``upper``, ``ewma``, ``ewma_lower``, ``ewma_upper`` (missing in an unusual-volume or
        known-event week, which the EWMA passes over), ``baseline``, ``signal`` and
        ``ewma_signal`` (``above`` / ``below`` / ``""``), ``volume`` and ``event`` (words, or ``""``).
    set_aside : pandas.DataFrame
        Weeks not charted: ``n``, ``reason`` (a partial week, too few rows) and ``ledger`` (the reason its rows
        are counted under).
    limits : study.monitoring.charts.Limits
    dispersion : study.monitoring.charts.Dispersion
        The baseline weeks' between-week spread against their within-week standard errors.
    overdispersed : bool
        Whether that test rejected at ``alpha``, so that Laney's chart is used.
    trend : study.monitoring.trend.Trend
    settings : Settings
    """

    indicator: Indicator
    unit: str
    table: pd.DataFrame
    set_aside: pd.DataFrame
    limits: charts.Limits
    dispersion: charts.Dispersion
    overdispersed: bool
    trend: Trend
    settings: Settings

    @property
    def chart(self) -> str:
        """The Shewhart chart's name: ``p-chart``, ``Laney p' chart``, ``X-bar chart`` or ``Laney X-bar' chart``."""
        return {"p": "p-chart", "X-bar": "X-bar chart"}.get(self.limits.kind, f"{self.limits.kind} chart")

    @property
    def weeks(self) -> int:
        return len(self.table)

    @property
    def flagged(self) -> pd.DataFrame:
        """Charted weeks with a Shewhart or an EWMA signal."""
        return self.table[(self.table["signal"] != "") | (self.table["ewma_signal"] != "")]

    @property
    def rows_used(self) -> int:
        return int(self.table["n"].sum())


def _set_aside(table: pd.DataFrame, indicator: Indicator, min_week_n: int) -> tuple[pd.Series, pd.Series]:
    """Why each week is not charted ("" when it is): in words for the week, and as the ledger's reason for its rows."""
    reasons = pd.Series("", index=table.index, dtype=object)
    ledger = reasons.copy()
    small = table["n"] < min_week_n
    reasons[small] = [f"fewer than {min_week_n} {indicator.counted} ({n})" for n in table.loc[small, "n"]]
    ledger[small] = f"in a week with fewer than {min_week_n} {indicator.counted}"
    partial = table["partial"]
    # A partial week holds only some weekdays: its value mixes days differently from a full week's.
    reasons[partial] = [f"partial week ({d} of 7 days in the data)" for d in table.loc[partial, "days"]]
    ledger[partial] = "in a partial week"
    return reasons, ledger


def build(indicator: Indicator, weeks: pd.Series, values: pd.Series, calendar: pd.DataFrame, settings: Settings,
          unit: str = "all tickets") -> IndicatorChart | str:
    """Chart ``indicator`` from each ticket's week and value, or say why it cannot be charted.

    Parameters
    ----------
    indicator : Indicator
    weeks : pandas.Series
        Each ticket's Monday.
    values : pandas.Series
        Each ticket's value (:meth:`Indicator.values`), missing where it does not contribute.
    calendar : pandas.DataFrame
        The data's weeks: ``days``, ``partial``, ``volume`` and ``event`` (:func:`study.monitoring.analysis.week_calendar`).
    settings : Settings
    unit : str

    Returns
    -------
    IndicatorChart or str
        The reason, in words, when fewer than baseline + 2 weeks can be charted or nothing varies.
    """
    return from_weeks(indicator, weekly(weeks, values), calendar, settings, unit)


def from_weeks(indicator: Indicator, table: pd.DataFrame, calendar: pd.DataFrame, settings: Settings,
               unit: str = "all tickets") -> IndicatorChart | str:
    """:func:`build` from weekly aggregates: ``n``, ``value``, ``sd`` and ``events`` by week (:func:`weekly`)."""
    s = settings
    if table.empty:
        return f"no {indicator.counted} with a date"
    table = table.join(calendar[["days", "partial", "volume", "event"]], how="left")
    table["se"] = standard_errors(table, indicator.rate)
    reasons, ledger_reasons = _set_aside(table, indicator, s.min_week_n)
    used = table[reasons == ""].copy()
    need = s.baseline_weeks + 2
    # Known events and unusual-volume weeks (a sale peak) would set the center and spread by an unusual week.
    candidates = used.index[(used["event"] == "") & (used["volume"] == "")]
    if len(used) < need or len(candidates) < s.baseline_weeks:
        partial = int(table["partial"].sum())
        return (f"only {len(used)} full week{'s' if len(used) != 1 else ''} with at least {s.min_week_n} {indicator.counted}"
                f"{' outside known events and unusual-volume weeks' if len(used) >= need else ''} (of {len(table)} weeks with any; "
                f"{partial} partial): the charts need {need}, {s.baseline_weeks} baseline weeks and 2 to judge")
    baseline = candidates[: s.baseline_weeks]
    base = used.loc[baseline]
    if indicator.rate:
        center = float(base["events"].sum() / base["n"].sum())
        if center in (0.0, 1.0):
            return (f"the {indicator.label} is {center:.0%} in every baseline week: a rate without binomial spread "
                    "has no control limits")
        dispersion = charts.rate_dispersion(base["events"].to_numpy(), base["n"].to_numpy())
    else:
        sd = base["sd"].fillna(0.0)
        if float(sd.max()) == 0.0:
            value = used["value"].iloc[0]
            return (f"{indicator.label} does not vary within the baseline weeks (every value {value:g}): there is no "
                    "within-week spread to set limits from")
        sigma = charts.pooled_sd(base["n"].to_numpy(), sd.to_numpy())
        center = float((base["n"] * base["value"]).sum() / base["n"].sum())
        dispersion = charts.mean_dispersion(base["n"].to_numpy(), base["value"].to_numpy(), sd.to_numpy())
    # More between-week spread than within-week sampling explains (weekly conditions differ): with a
    # thousand tickets a week a textbook chart would flag nearly every week, so Laney's factor widens it.
    overdispersed = bool(dispersion.p_value < s.alpha)
    # Laney's factor below 1 after a rejected test means a drift or step inside the baseline rather than
    # week-to-week noise: the moving ranges do not support wider limits, so the textbook ones stay.
    sigma_z = dispersion.sigma_z if overdispersed and dispersion.sigma_z > 1.0 else 1.0
    n = used["n"].to_numpy()
    limits = (charts.p_chart(center, n, s.width, sigma_z) if indicator.rate
              else charts.xbar_chart(center, sigma, n, s.width, sigma_z))
    # A sale peak or a known event is judged on its own (Shewhart) but does not feed the EWMA: one unusual
    # week would otherwise hold the smoothed level beyond its limits for weeks and read as a sustained shift.
    usual = ((used["event"] == "") & (used["volume"] == "")).to_numpy()
    z, z_low, z_high = (np.full(len(used), np.nan) for _ in range(3))
    in_base = used.index.isin(baseline)
    weights = np.where(in_base, n, 0) / n[in_base].sum() if s.allow_for_baseline else None
    z[usual], z_low[usual], z_high[usual] = charts.ewma(used["value"].to_numpy()[usual], n[usual], center,
                                                        limits.sigma * sigma_z, s.lam, s.ewma_width,
                                                        None if weights is None else weights[usual])
    values_now = used["value"].to_numpy()
    used = used.assign(center=center, lower=limits.lower, upper=limits.upper, ewma=z, ewma_lower=z_low,
                       ewma_upper=z_high, baseline=used.index.isin(baseline),
                       signal=np.where(values_now > limits.upper, "above", np.where(values_now < limits.lower, "below", "")),
                       ewma_signal=np.where(z > z_high, "above", np.where(z < z_low, "below", "")))
    number = ((used.index - used.index[0]).days // 7).to_numpy()
    trend = weekly_trend(number, values_now, s.alpha)
    aside = table.loc[reasons != "", ["n"]].assign(reason=reasons[reasons != ""], ledger=ledger_reasons[reasons != ""])
    columns = ["n", "value", "se", "center", "lower", "upper", "ewma", "ewma_lower", "ewma_upper", "baseline",
               "signal", "ewma_signal", "volume", "event"]
    return IndicatorChart(indicator, unit, used[columns], aside, limits, dispersion, overdispersed, trend, s)
