"""Team x week cells of a rollout: ticket counts, each outcome's mean, whether the team had adopted, weeks since.

A week-level panel is the analysis unit of the rollout (:mod:`study.rollout.did`): a regression on cell
means weighted by the cell's count equals the ticket-level one, point estimate and team-clustered
sandwich alike, and is a few hundred rows instead of tens of thousands.

Rules, each counted in the ledger with its reason:

- a ticket without a team or a creation time belongs to no cell;
- a team that adopted in the middle of a week (not Monday 00:00) has a mixed adoption week, part before
  and part after: that cell is set aside; the weeks before are before, the weeks after are after;
- a team whose ``adopted_at`` differs between its tickets is an error (:class:`study.data.schema.DataError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core.accounting import RowLedger
from study.core.weeks import week_start
from study.data.adoption import adoption_table  # noqa: F401  (part of this module's API)
from study.data.features import response_log2_hours
from study.data.schema import DataError

WEEK = pd.Timedelta(days=7)

# outcome -> (words with unit, short words, how its per-ticket value is read)
OUTCOMES = {
    "log2_response_hours": ("first response time (log2 hours: -1 = twice as fast)", "first response time on a log scale",
                            "log2 of first_response_minutes / 60 (at least one minute)"),
    "csat": ("CSAT (1-5, answered surveys)", "CSAT", "csat of answered surveys"),
    "resolution_rate": ("complaint-resolution rate (share resolved)", "resolution rate", "resolved as 0/1"),
    "repeat_purchase": ("repeat-purchase rate (share)", "repeat-purchase rate", "repeat_purchase as 0/1"),
    "log2_resolution_hours": ("resolution time of resolved tickets (log2 hours: -1 = twice as fast)",
                              "resolution time on a log scale",
                              "log2 of resolution_minutes / 60 of resolved tickets (at least one minute)"),
}
UNITS = {"log2_response_hours": "log2 hours", "csat": "points", "resolution_rate": "percentage points",
         "repeat_purchase": "percentage points", "log2_resolution_hours": "log2 hours"}
NO_TEAM = "no team"
MIXED = "in its team's adoption week, which mixes days before and after a mid-week adoption"


@dataclass
class Panel:
    """The cells of a rollout and what became of every ticket.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per team and week with tickets: ``team``, ``week`` (Monday), ``tickets``, per outcome
        ``<outcome>_n`` (tickets with a value; answered surveys for CSAT), ``<outcome>`` (their mean) and
        ``<outcome>_ss`` (their sum of squares),
        ``adoption_week`` (Monday of the team's adoption week; missing for teams that never adopted),
        ``treat`` (the team had adopted by the week's start), ``event_week`` (weeks since the adoption
        week, missing for teams that never adopted) and ``period`` (weeks since the first week, 0, 1, ...).
    ledger : study.core.accounting.RowLedger
        Tickets in, set aside by reason (no team, no time, mixed adoption weeks), used.
    adoption : pandas.DataFrame
        One row per team: ``adopted_at`` (missing: never adopted), ``adoption_week``, ``mid_week``.
    by_team : bool
        Whether the data has a team column (without one, all tickets are one unit: ITS only).
    outcomes : list of str
        The outcomes the data has (keys of :data:`OUTCOMES`).
    """

    cells: pd.DataFrame
    ledger: RowLedger
    adoption: pd.DataFrame
    by_team: bool
    outcomes: list[str] = field(default_factory=list)
    ticket_cells: pd.DataFrame | None = None  # each used ticket's team and week, aligned with the ledger's rows

    def set_aside(self, mask: pd.Series, reason: str) -> None:
        """Leave out the cells where ``mask`` is true; their tickets are counted in the ledger under ``reason``."""
        gone = self.cells.loc[mask.to_numpy(dtype=bool), ["team", "week"]]
        if gone.empty:
            return
        keys = pd.MultiIndex.from_frame(self.ticket_cells[["team", "week"]])
        out = keys.isin(pd.MultiIndex.from_frame(gone))
        self.ledger.keep(pd.Series(~out, index=self.ticket_cells.index), reason)
        self.ticket_cells = self.ticket_cells[~out]
        self.cells = self.cells[~mask.to_numpy(dtype=bool)].reset_index(drop=True)

    @property
    def adopters(self) -> pd.DataFrame:
        return self.adoption[self.adoption["adopted_at"].notna()]

    @property
    def teams(self) -> int:
        return int(self.adoption.shape[0])

    @property
    def weeks(self) -> int:
        return int(self.cells["week"].nunique())

    def outcome_cells(self, outcome: str) -> pd.DataFrame:
        """The cells with at least one value of ``outcome``, with ``y`` (the mean) and ``w`` (the count)."""
        cells = self.cells[self.cells[f"{outcome}_n"] > 0].copy()
        cells["y"] = cells[outcome]
        cells["w"] = cells[f"{outcome}_n"].astype(float)
        cells["ss"] = cells[f"{outcome}_ss"]
        return cells


def ticket_values(tickets: pd.DataFrame) -> pd.DataFrame:
    """Each ticket's value of each outcome the data has (missing where it has none), in the outcome's unit."""
    values = pd.DataFrame(index=tickets.index)
    if "first_response_minutes" in tickets.columns:
        minutes = pd.to_numeric(tickets["first_response_minutes"], errors="coerce").astype(float)
        # Shocks to waiting times (sale peaks, growth) multiply them: on a log scale they shift every team alike,
        # while in hours a slow team loses more than a fast one, so times are not compared in hours (parallel
        # trends fail there); the same holds for resolution times.
        values["log2_response_hours"] = response_log2_hours(minutes)
    if "csat" in tickets.columns:
        values["csat"] = pd.to_numeric(tickets["csat"], errors="coerce").astype(float)
    if "resolved" in tickets.columns:
        values["resolution_rate"] = _share(tickets["resolved"])
    if "repeat_purchase" in tickets.columns:
        values["repeat_purchase"] = _share(tickets["repeat_purchase"])
    if "resolution_minutes" in tickets.columns and "resolved" in tickets.columns:
        minutes = pd.to_numeric(tickets["resolution_minutes"], errors="coerce").astype(float)
        values["log2_resolution_hours"] = response_log2_hours(minutes).where(_share(tickets["resolved"]) == 1)
    return values


def _share(column: pd.Series) -> pd.Series:
    return column.astype("boolean").astype("Float64").astype(float)


def build_panel(tickets: pd.DataFrame, set_aside: dict[str, int] | None = None, team: str | None = "team") -> Panel:
    """Team x week cells of ``tickets`` (see the module's rules).

    Parameters
    ----------
    tickets : pandas.DataFrame
        With ``created_at`` and ``adopted_at``; ``team`` when adoption was staggered; the outcome columns
        it has (``first_response_minutes``, ``csat``, ``resolved``, ``repeat_purchase``, ``resolution_minutes``).
    set_aside : dict, optional
        Rows left out before (reason -> count), counted in the ledger.
    team : str or None
        The adopting unit's column; ``None`` or absent: every ticket is one unit.

    Returns
    -------
    Panel

    Raises
    ------
    DataError
        A column the rollout needs is missing, or a team's ``adopted_at`` varies.
    """
    for needed in ("created_at", "adopted_at"):
        if needed not in tickets.columns:
            raise DataError(f"{needed}: the rollout analysis needs this column and the data has none")
    by_team = bool(team) and team in tickets.columns
    ledger = RowLedger(tickets, set_aside)
    frame = ledger.keep(tickets["created_at"].notna(), "no creation time (created_at)")
    if by_team:
        frame = ledger.keep(frame[team].notna(), NO_TEAM)
    adoption = adoption_table(frame, team if by_team else None)
    values = ticket_values(frame)
    keys = frame[team].astype(str) if by_team else pd.Series("all tickets", index=frame.index)
    adoption.index = adoption.index.astype(str)
    week = week_start(frame["created_at"])
    adoption_week = keys.map(adoption["adoption_week"])
    mid = keys.map(adoption["mid_week"]).astype(bool)
    mixed = mid & (week == adoption_week)
    frame = ledger.keep(~mixed, MIXED)
    keep = frame.index
    outcomes = list(values.columns)
    cells = _cells(keys[keep], week[keep], values.loc[keep], outcomes)
    cells["adoption_week"] = cells["team"].map(adoption["adoption_week"]).astype("datetime64[ns]")
    cells["treat"] = (cells["adoption_week"].notna() & (cells["week"] >= cells["adoption_week"])).astype(int)
    cells["event_week"] = ((cells["week"] - cells["adoption_week"]) / WEEK).round().astype("Float64").astype(float)
    first = cells["week"].min()
    cells["period"] = ((cells["week"] - first) / WEEK).round().astype(int) if len(cells) else pd.Series(dtype=int)
    ticket_cells = pd.DataFrame({"team": keys[keep], "week": week[keep]})
    return Panel(cells, ledger, adoption, by_team, outcomes, ticket_cells)


def _cells(keys: pd.Series, week: pd.Series, values: pd.DataFrame, outcomes: list[str]) -> pd.DataFrame:
    frame = values.assign(team=keys.to_numpy(), week=week.to_numpy(), tickets=1.0)
    for outcome in outcomes:
        frame[f"{outcome}_sq"] = frame[outcome] ** 2
    grouped = frame.groupby(["team", "week"], sort=True)
    cells = grouped["tickets"].sum().astype(int).to_frame()
    for outcome in outcomes:
        cells[f"{outcome}_n"] = grouped[outcome].count().astype(int)
        cells[outcome] = grouped[outcome].mean()
        cells[f"{outcome}_ss"] = grouped[f"{outcome}_sq"].sum()  # Welch's variance for a single unit
    return cells.reset_index()


def adoption_summary(panel: Panel) -> pd.DataFrame:
    """Teams by adoption week: how many adopted that week (mid-week or on a Monday), and how many never did."""
    table = panel.adoption.copy()
    table["cohort"] = table["adoption_week"].dt.strftime("%Y-%m-%d").fillna("never (by the end of the data)")
    out = table.groupby("cohort", sort=True).agg(teams=("mid_week", "size"), mid_week=("mid_week", "sum"))
    return out.rename(columns={"mid_week": "adopted mid-week"})


def event_bins(event_week: pd.Series, window: int) -> pd.Series:
    """Weeks since adoption, the far leads and lags binned into ``-window`` and ``+window`` (missing stays missing)."""
    return event_week.clip(lower=-window, upper=window)


def never_or_not_yet(cells: pd.DataFrame) -> np.ndarray:
    """Weeks (Mondays) in which at least one team had not yet adopted (a comparison for the adopters)."""
    return np.unique(cells.loc[cells["treat"] == 0, "week"].to_numpy())
