"""Derived columns, nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd

RESPONSE_BANDS = ["under 15 min", "15-60 min", "1-4 h", "4-24 h", "over 24 h"]
_BAND_EDGES_MINUTES = [-np.inf, 15, 60, 240, 1440, np.inf]
# Replies faster than a minute count as one minute on the log scale (log of zero is undefined).
LOG_FLOOR_MINUTES = 1.0


def response_log2_hours(minutes: pd.Series) -> pd.Series:
    """First response time as log2 of hours: +1 means the wait doubled.

    Parameters
    ----------
    minutes : pandas.Series
        First response time in minutes (>= 0).

    Returns
    -------
    pandas.Series
        ``log2(max(minutes, 1) / 60)``; 0 is one hour, 1 is two hours, -2 is 15 minutes.
    """
    return np.log2(minutes.clip(lower=LOG_FLOOR_MINUTES) / 60.0)


def response_band(minutes: pd.Series) -> pd.Series:
    """First response time in the bands stakeholders use (ordered categorical)."""
    return pd.cut(minutes, _BAND_EDGES_MINUTES, labels=RESPONSE_BANDS, right=False)


def derive(tickets: pd.DataFrame, copy: bool = True) -> pd.DataFrame:
    """Add the columns the analyses use.

    Adds ``response_hours``, ``response_log2_hours`` and ``response_band`` when there is a
    ``first_response_minutes``, and ``csat_answered`` and ``csat_top2`` (CSAT of 4 or 5; missing when
    unanswered) when there is a ``csat``.

    Parameters
    ----------
    tickets : pandas.DataFrame
        Validated tickets (see :func:`study.data.schema.validate`).
    copy : bool
        ``False`` adds the columns to ``tickets`` itself (a table the caller owns).

    Returns
    -------
    pandas.DataFrame
        A copy with the derived columns (``tickets`` itself when ``copy`` is false).
    """
    out = tickets.copy() if copy else tickets
    # Each analysis needs only some contract columns: what cannot be derived is left out, and the
    # analyses that need it are skipped with that reason.
    if "first_response_minutes" in out.columns:
        minutes = out["first_response_minutes"]
        out["response_hours"] = minutes / 60.0
        out["response_log2_hours"] = response_log2_hours(minutes)
        out["response_band"] = response_band(minutes)
    if "csat" in out.columns:
        out["csat_answered"] = out["csat"].notna()
        out["csat_top2"] = (out["csat"] >= 4).astype("boolean").where(out["csat_answered"])
    return out
