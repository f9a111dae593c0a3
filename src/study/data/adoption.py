"""When each team adopted a change: one go-live per team, checked once for the whole study.

The rollout analysis (07) reads it, and ``study run`` checks it before any notebook starts, so a team
whose tickets disagree on ``adopted_at`` is refused in one line like any other bad data.
"""

from __future__ import annotations

import pandas as pd

from study.core.weeks import week_start
from study.data.schema import DataError


def adoption_table(tickets: pd.DataFrame, team: str | None) -> pd.DataFrame:
    """One row per team (one row for all tickets without a team column): its adoption time and week.

    Raises
    ------
    DataError
        When a team's tickets disagree on ``adopted_at`` (two times, or a time and an empty value).
    """
    keys = tickets[team] if team else pd.Series("all tickets", index=tickets.index)
    adopted = pd.to_datetime(tickets["adopted_at"])
    frame = pd.DataFrame({"team": keys, "adopted_at": adopted})
    # A missing adoption time stands for "not by the end of the data": NaT is a value to compare here.
    coded, _ = pd.factorize(frame["adopted_at"])  # NaT gets -1: a value of its own
    distinct = pd.DataFrame({"team": frame["team"], "code": coded}).groupby("team", sort=True)["code"].nunique()
    varying = distinct[distinct > 1]
    if len(varying):
        name = varying.index[0]
        rows = frame[frame["team"] == name]
        counts = rows["adopted_at"].dt.strftime("%Y-%m-%d %H:%M:%S").fillna("empty").value_counts()
        listed = ", ".join(f"{value} ({n:,} rows)" for value, n in counts.items())
        whose = f"team {name}" if team else "the data (no team column, so one unit)"
        more = f"; {len(varying) - 1} more team(s) too" if len(varying) > 1 else ""
        raise DataError(f"adopted_at varies within {whose}: {listed}; a team adopts once{more}")
    table = frame.groupby("team", sort=True)["adopted_at"].first().to_frame()
    table["adoption_week"] = week_start(table["adopted_at"])
    table["mid_week"] = table["adopted_at"].notna() & (table["adopted_at"] != table["adoption_week"])
    return table
