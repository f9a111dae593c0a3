"""``analyse``: did a service change work once it went live? Naive before/after beside the right comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.results import Skipped
from study.data.dataset import TicketData, tickets_and_source
from study.rollout import did, its, pilot
from study.rollout.panel import OUTCOMES, Panel, build_panel
from study.rollout.result import RolloutAnalysis

MIN_TEAMS = 10  # team-clustered errors with fewer teams are not to be trusted, even with t(G - 1)
MIN_WEEKS_BEFORE = 3  # the reference week (-1) and at least one lead to test, plus one
MIN_WEEKS_AFTER = 1


def analyse(data: pd.DataFrame | TicketData, alpha: float = 0.05, pilot_data: TicketData | None = None,
            window: int = did.WINDOW, team: str = "team", min_teams: int = MIN_TEAMS,
            name: str = "in-memory table") -> RolloutAnalysis:
    """The rollout of a service change: naive before/after, staggered DiD with its event study, or ITS, and the pilot.

    Parameters
    ----------
    data : pandas.DataFrame or TicketData
        Tickets with ``created_at`` and ``adopted_at`` (empty: the team had not adopted by the end of the
        data), ``team`` for a staggered rollout, and the outcome columns the data has.
    alpha : float
        1 - the confidence level of every interval and test.
    pilot_data : TicketData, optional
        The pilot's tickets (the SLA experiment), for the pilot-against-rollout section; ``None`` skips it.
    window : int
        Event-study weeks before and after adoption shown one by one; farther ones are binned.
    team : str
        The adopting unit's column (team, region, store, queue).
    min_teams : int
        Fewest teams for the staggered comparison (team-clustered errors need about ten).
    name : str
        How results name an in-memory table.

    Returns
    -------
    RolloutAnalysis
        With ``skipped`` set when the data has no adoption time at all.

    Raises
    ------
    study.data.schema.DataError
        A team whose tickets disagree on ``adopted_at``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    frame, source, set_aside = tickets_and_source(data, name)
    parameters = {"alpha": alpha, "window": window, "team": team, "min_teams": min_teams,
                  "pilot": pilot_data.source.name if pilot_data is not None else None}
    missing = [c for c in ("created_at", "adopted_at") if c not in frame.columns]
    if missing or frame["adopted_at"].notna().sum() == 0:
        reason = (f"the data has no {' and no '.join(missing)} column" if missing else
                  "no ticket has an adoption time (adopted_at is empty on every row)")
        return RolloutAnalysis(source, parameters, None, skipped=f"{reason}: the rollout analysis needs when each team adopted")
    created, adopted = pd.to_datetime(frame["created_at"]), pd.to_datetime(frame["adopted_at"])
    if created.notna().any() and adopted.min() > created.max():
        return RolloutAnalysis(source, parameters, None, skipped=(
            f"every go-live (the first on {adopted.min():%Y-%m-%d}) is after the last ticket ({created.max():%Y-%m-%d}):"
            " no ticket was handled after adoption"))
    panel = build_panel(frame, set_aside, team)
    result = RolloutAnalysis(source, parameters, panel)
    result.design = design(panel)
    if result.design == "staggered":
        result.did_skipped = _staggered(result, panel, alpha, window, min_teams)
        result.its_skipped = ("teams adopted in different weeks (or some never did): the comparison with teams not yet "
                              "adopted above is the analysis; a time series alone would read the trend and the sale "
                              "peaks as the change's effect")
    else:
        week = panel.adopters["adoption_week"].iloc[0].strftime("%Y-%m-%d")
        who = "every team" if panel.by_team else "the data has no team column, so every ticket"
        result.did_skipped = (f"{who} adopted in the same week ({week}): no team was left without the change to compare "
                              "with, so the interrupted time series below is the analysis")
        result.its_skipped = _at_once(result, panel, alpha)
    result.pilot = pilot.compare({o: e for o, e in result.att.items() if not isinstance(e, Skipped)}, pilot_data, alpha)
    return result


def design(panel: Panel) -> str:
    """``staggered`` (teams adopted in different weeks, or some never did) or ``at_once``."""
    if not panel.by_team:
        return "at_once"
    adoption = panel.adoption
    weeks = adoption["adoption_week"].dropna().nunique()
    never = int(adoption["adopted_at"].isna().sum())
    return "at_once" if weeks == 1 and never == 0 else "staggered"


def _staggered(result: RolloutAnalysis, panel: Panel, alpha: float, window: int, min_teams: int) -> str:
    """Naive, DiD, event study and pre-trend test of every outcome into ``result``; the reason it could not run, or ''."""
    teams = panel.teams
    if teams < min_teams:
        result.naive = _naive(panel, alpha)
        return (f"only {teams} team{'s' if teams != 1 else ''}: standard errors clustered by team need about "
                f"{min_teams} or more to be trusted")
    no_before, no_comparison = did.comparable(panel.cells)
    early = int(panel.cells.loc[no_before, "team"].nunique())
    panel.set_aside(no_before, "its team had adopted before the data's first week: no week before to compare")
    no_before, no_comparison = did.comparable(panel.cells)
    panel.set_aside(no_comparison, "in a week when every team had adopted: no team left to compare with")
    result.naive = _naive(panel, alpha)
    cells = panel.cells
    if not (cells["treat"] == 1).any() and early:
        return (f"the {early} adopting team{'s' if early != 1 else ''} went live before the data's first week: no "
                "adopting team has a week before go-live to compare with (their tickets are set aside and counted)")
    if not (cells["treat"] == 1).any() or not (cells["treat"] == 0).any():
        return "no week has both teams that had adopted and teams that had not yet: no comparison"
    adopters = cells[cells["adoption_week"].notna()]
    before = int(adopters[adopters["treat"] == 0].groupby("team")["week"].nunique().max()) if (adopters["treat"] == 0).any() else 0
    after = int(adopters[adopters["treat"] == 1].groupby("team")["week"].nunique().max())
    if before < MIN_WEEKS_BEFORE or after < MIN_WEEKS_AFTER:
        return (f"the adopting teams have at most {before} week(s) before adopting and {after} after: the comparison needs "
                f"at least {MIN_WEEKS_BEFORE} before (a reference week and leads to test) and {MIN_WEEKS_AFTER} after")
    for outcome in panel.outcomes:
        rows = panel.outcome_cells(outcome)
        reason = degenerate.first(degenerate.no_rows(rows, "team-weeks with a value"), _constant(rows, outcome),
                                  degenerate.too_few_clusters(rows, "team", 2, "standard errors clustered by team"))
        if reason:
            result.att[outcome] = Skipped(f"the rollout effect on {OUTCOMES[outcome][1]}", reason)
            continue
        try:
            result.att[outcome], _ = did.att(rows, outcome, alpha)
            result.events[outcome], result.pretrend[outcome] = did.event_study(rows, outcome, alpha, window)
        except (np.linalg.LinAlgError, RuntimeError):  # RuntimeError: scipy's "Factor is exactly singular"
            # Few tickets a week: leaving one team out (the jackknife) can leave a week with no team to compare.
            result.att[outcome] = Skipped(f"the rollout effect on {OUTCOMES[outcome][1]}", (
                "too few tickets a week: leaving one team out leaves a week or a team without anything to compare "
                "with, so the jackknife's standard error cannot be made"))
            result.events.pop(outcome, None)
            result.pretrend.pop(outcome, None)
    return ""


def _at_once(result: RolloutAnalysis, panel: Panel, alpha: float) -> str:
    """Naive and the segmented regression of every outcome into ``result``; why ITS could not run, or ''."""
    result.naive = _naive(panel, alpha)
    for outcome in panel.outcomes:
        rows = panel.outcome_cells(outcome)
        weekly = its.weekly_series(rows)
        reason = degenerate.first(degenerate.no_rows(rows, "weeks with a value"), _constant(rows, outcome), its.problem(weekly))
        if reason:
            result.its[outcome] = Skipped(f"the interrupted time series of {OUTCOMES[outcome][1]}", reason)
        else:
            result.its[outcome] = its.segmented(rows, outcome, alpha)
    if result.its and all(isinstance(v, Skipped) for v in result.its.values()):
        return next(iter(result.its.values())).reason
    return ""


def _naive(panel: Panel, alpha: float) -> dict:
    out = {}
    for outcome in panel.outcomes:
        rows = panel.outcome_cells(outcome)
        adopters = rows[rows["adoption_week"].notna()]
        sides = adopters["treat"].nunique() if len(adopters) else 0
        if sides == 2 and _constant(adopters, outcome) is None:
            out[outcome] = did.naive(rows, outcome, alpha)
    return out


def _constant(rows: pd.DataFrame, outcome: str) -> str | None:
    if len(rows) and _no_spread(rows):
        return f"{OUTCOMES[outcome][1]} has one value in every ticket analysed: nothing to compare"
    return None


def _no_spread(rows: pd.DataFrame) -> bool:
    # Every ticket has the same value when the weighted variance over tickets is zero.
    n = rows["w"].sum()
    mean = (rows["w"] * rows["y"]).sum() / n
    return bool(rows["ss"].sum() - n * mean**2 <= 1e-12 * max(1.0, n * mean**2))
