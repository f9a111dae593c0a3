"""Calendar weeks: the unit of time of the rollout and monitoring analyses."""

from __future__ import annotations

import math

import pandas as pd


def week_start(times: pd.Series) -> pd.Series:
    """Monday 00:00 of the week of each timestamp (ISO weeks; missing times stay missing).

    Parameters
    ----------
    times : pandas.Series
        Naive timestamps (the contract's UTC times).

    Returns
    -------
    pandas.Series
        Timestamps of the Mondays, same index.
    """
    times = pd.to_datetime(times)
    return (times.dt.normalize() - pd.to_timedelta(times.dt.day_of_week, unit="D")).astype("datetime64[ns]")


def unusual_volume(tickets: pd.Series, reference: pd.Series | None = None) -> pd.Series:
    """Weeks whose ticket count lies far from the usual: ``"high-volume week"``, ``"low-volume week"`` or ``""``.

    Far means more than 3 times the larger of the reference weeks' robust spread (1.4826 x the median
    absolute deviation, so that a sale week among them does not hide itself) and the Poisson spread
    sqrt(median), from the reference weeks' median. A sale peak changes who writes in and how busy the
    agents are, so such weeks are read apart from the others.

    Parameters
    ----------
    tickets : pandas.Series
        Tickets per week.
    reference : pandas.Series, optional
        The weeks that say what is usual (a baseline); default all of ``tickets``. Fewer than two: none is unusual.
    """
    base = (tickets if reference is None else reference).astype(float)
    out = pd.Series("", index=tickets.index, dtype=object)
    if len(base) < 2:
        return out
    middle = float(base.median())
    spread = 3 * max(1.4826 * float((base - middle).abs().median()), middle ** 0.5)
    out[tickets > middle + spread] = "high-volume week"
    out[tickets < middle - spread] = "low-volume week"
    return out


def newey_west_lags(weeks: int) -> int:
    """The usual automatic Newey-West bandwidth for a weekly series, floor(4 (T / 100) ^ (2 / 9)), at least 1."""
    return max(1, math.floor(4 * (weeks / 100) ** (2 / 9)))


def period_of(times: pd.Series) -> str | None:
    """The days the timestamps cover, in words: ``5 Jan 2026 to 28 Jun 2026`` (``None`` without any).

    Parameters
    ----------
    times : pandas.Series
        Timestamps; missing ones are left out.
    """
    known = pd.to_datetime(times, errors="coerce").dropna()
    if known.empty:
        return None
    first, last = known.min(), known.max()
    return f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}"
