"""Calendar weeks: the unit of time of the rollout and monitoring analyses."""

from __future__ import annotations

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
