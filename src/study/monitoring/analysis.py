"""``analyse``: the five key indicators week by week, overall and per team, with control limits and trends."""

from __future__ import annotations


import numpy as np
import pandas as pd

from study.core.accounting import RowLedger
from study.core.weeks import unusual_volume, week_start
from study.data.dataset import TicketData, tickets_and_source
from study.data.schema import DataError
from study.monitoring.indicators import INDICATORS, calendar
from study.monitoring.result import KpiMonitoring
from study.monitoring.weekly_chart import Settings

# What the analysis reads of a ticket table (the default team column included): a 10M-ticket run loads these, not every column.
COLUMNS = ["created_at", "team", *dict.fromkeys(i.column for i in INDICATORS), "resolved"]


def week_calendar(created: pd.Series, settings: Settings, mondays: pd.Series | None = None) -> pd.DataFrame:
    """The data's weeks with their tickets, days, partial flag, volume flag and known event.

    A week is a high-volume (low-volume) week when its tickets lie above (below) the median of the first
    ``baseline_weeks`` full weeks by more than 3 times the larger of their robust spread (1.4826 x the
    median absolute deviation, so that a sale week among them does not hide itself) and the Poisson spread
    sqrt(median). A sale peak changes who writes in and how busy the agents are: such weeks are kept out of
    the baseline, and a signal in one is read as such, not as a change of the service. ``mondays``: the
    tickets' weeks when already known.
    """
    weeks = calendar(created, mondays)
    weeks["event"] = [settings.events.get(w, "") for w in weeks.index]
    full = weeks[~weeks["partial"] & (weeks["event"] == "") & (weeks["tickets"] > 0)]
    weeks["volume"] = unusual_volume(weeks["tickets"], full["tickets"].iloc[: settings.baseline_weeks]).where(~weeks["partial"], "")
    return weeks


def _events(events: dict | None) -> dict:
    """Known events keyed by their week's Monday (any day of the week may be given)."""
    out = {}
    for day, label in (events or {}).items():
        try:
            monday = week_start(pd.Series([pd.Timestamp(day)])).iloc[0]
        except (ValueError, TypeError) as error:
            raise ValueError(f"events: {day!r} is not a date ({error})") from None
        out[monday] = str(label)
    return out


def _check(baseline_weeks: int, alpha: float, min_week_n: int, lam: float, width: float, ewma_width: float) -> None:
    if not isinstance(baseline_weeks, (int, np.integer)) or baseline_weeks < 2:
        raise ValueError(f"baseline_weeks must be a whole number of at least 2, not {baseline_weeks!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    if not isinstance(min_week_n, (int, np.integer)) or min_week_n < 2:
        raise ValueError(f"min_week_n must be a whole number of at least 2, not {min_week_n!r}")
    if not 0 < lam <= 1:
        raise ValueError(f"lam (the EWMA weight) must lie in (0, 1], not {lam!r}")
    if width <= 0 or ewma_width <= 0:
        raise ValueError(f"limit widths must be positive, not {width!r} and {ewma_width!r}")


def analyse(
    data: pd.DataFrame | TicketData,
    baseline_weeks: int = 8,
    alpha: float = 0.05,
    min_week_n: int = 20,
    *,
    team: str = "team",
    events: dict | None = None,
    lam: float = 0.2,
    width: float = 3.0,
    ewma_width: float = 3.0,
    allow_for_baseline: bool = True,
    name: str = "in-memory table",
) -> KpiMonitoring:
    """The five key indicators per week, each on a control chart, with its out-of-control weeks and trend.

    For each indicator present (:data:`study.monitoring.indicators.INDICATORS`): weekly values with
    counts and within-week standard errors; a Shewhart chart (p-chart for a rate, X-bar for a mean, Laney's
    version when the baseline weeks vary more than sampling allows) with center and sigma from the first
    ``baseline_weeks`` full weeks; an EWMA with exact time-varying limits for small sustained shifts; the
    weeks out of control; and the straight-line trend with Newey-West errors. The same per team when the
    data has ``team``, for teams with enough tickets.

    Parameters
    ----------
    data : pandas.DataFrame or TicketData
        Tickets with ``created_at`` and any of the indicators' columns.
    baseline_weeks : int
        Full weeks that set the center and limits (the first ones, known events left out).
    alpha : float
        Level of the dispersion test and 1 - the trend intervals' level.
    min_week_n : int
        Fewest contributing rows for a week to be charted (answered surveys for CSAT).
    team : str
        Column of the adopting unit; per-team charts when present with two or more teams.
    events : dict, optional
        ``{date: "what happened"}`` for weeks known in advance to be unusual (a sale): kept out of the
        baseline and named beside any signal in them.
    lam, width, ewma_width : float
        EWMA weight; Shewhart and EWMA limit widths (standard errors).
    allow_for_baseline : bool
        Whether the EWMA's limits allow for the error of the center estimated from the baseline
        (:func:`study.monitoring.charts.ewma`); False gives Montgomery's limits for a known center. The
        Shewhart limits are always the textbook ones.
    name : str
        How results name an in-memory table.

    Returns
    -------
    KpiMonitoring
        With ``skipped`` set when no ticket is dated; an indicator that cannot be charted is a
        :class:`study.core.results.Skipped` with its reason.

    Raises
    ------
    ValueError
        A bad parameter, naming it.
    """
    _check(baseline_weeks, alpha, min_week_n, lam, width, ewma_width)
    settings = Settings(int(baseline_weeks), float(alpha), int(min_week_n), float(width), float(lam), float(ewma_width),
                        _events(events), bool(allow_for_baseline))
    frame, source, set_aside = tickets_and_source(data, name)
    parameters = {"baseline_weeks": settings.baseline_weeks, "alpha": settings.alpha, "min_week_n": settings.min_week_n,
                  "lam": settings.lam, "width": settings.width, "ewma_width": settings.ewma_width,
                  "allow_for_baseline": settings.allow_for_baseline,
                  "events": {f"{w:%Y-%m-%d}": label for w, label in settings.events.items()}}
    result = KpiMonitoring(source, parameters, settings)
    ledger = RowLedger(frame, set_aside)
    result.ledger = ledger
    if "created_at" not in frame.columns or frame["created_at"].isna().all():
        result.skipped = "the data has no created_at: tickets cannot be put into weeks"
        return result
    created = pd.to_datetime(frame["created_at"], errors="coerce")
    bad = created.isna() & frame["created_at"].notna()
    if bad.any():
        raise DataError(f"created_at: {bad.sum():,} rows hold values that are not times, e.g. "
                        f"{frame.loc[bad, 'created_at'].iloc[0]!r}")
    dated = ledger.keep(created.notna(), "no created_at (the ticket cannot be put into a week)")
    created = created[dated.index]
    weeks = week_start(created)
    result.calendar = week_calendar(created, settings, weeks)
    for indicator in INDICATORS:
        result.run(indicator, dated, weeks)
    if team in dated.columns and dated[team].notna().any():
        result.run_teams(team, dated, weeks)
    else:
        result.team_skipped = f"the data has no {team} column: only the charts of all tickets" if team not in dated.columns \
            else f"{team} is empty in every ticket: only the charts of all tickets"
    return result

