"""Staggered difference-in-differences on team x week cells: the naive comparison, the ATT and the event study.

The estimator is Gardner's two-stage difference-in-differences (``pyfixest.did2s``), which is the
imputation estimator of Borusyak, Jaravel and Spiess: team and week effects are fitted on the cells of
teams that had not (yet) adopted, each adopted cell's outcome without the change is imputed from them,
and the average effect on the treated is the weighted mean of the adopted cells' differences. Unlike a
two-way fixed-effects regression, it never compares a late adopter with an early one after both
adopted, so effects that differ by cohort or grow with time since adoption do not bias it.

Inference: the leave-one-team-out jackknife (CR3, :mod:`study.rollout.jackknife`) with Student's t on
G - 1 degrees of freedom; pyfixest's two-stage (GMM) standard error is kept beside it. With 10-40 teams,
and the last weeks' comparison resting on the few teams not yet adopted, the sandwich understates the
variance and the jackknife does not (``benchmarks/rollout_null.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import WLS
from statsmodels.tools.tools import add_constant
from scipy import stats

from study.core.inference import Interval, wald_interval, wald_p_value
from study.core.results import Estimate
from study.rollout.jackknife import team_jackknife
from study.rollout.panel import OUTCOMES, event_bins

# Team and week effects as dummies, absorbing only a constant (did2s needs a fixed effect): the same model as
# ``~0|team+period``, solved exactly, where absorbing two effects demeans them iteratively to a tolerance of about
# 1e-8 (with a few hundred cells the dummies cost nothing).
FIRST_STAGE = "~C(team)+C(period)|one"
WINDOW = 8  # event-study leads and lags beyond +-8 weeks are binned into the end weeks
METHOD = ("Gardner two-stage DiD (pyfixest.did2s; the imputation estimator): team and week effects fitted on cells "
          "not yet adopted, weighted by tickets; leave-one-team-out jackknife variance (CR3), t with G-1 df")


@dataclass(frozen=True)
class ClusteredFit:
    """Coefficients of a two-stage fit (pyfixest) with their jackknife covariance and degrees of freedom."""

    coef: pd.Series
    vcov: pd.DataFrame
    teams: int
    fit: object  # the pyfixest Feols, as pyfixest returned it

    @property
    def df(self) -> int:
        return self.teams - 1


def did2s(cells: pd.DataFrame, second_stage: str, groups: np.ndarray, labels: list,
          fitter: str = "pyfixest") -> ClusteredFit:
    """``pyfixest.did2s`` on weighted cells (``y``, ``w``, ``team``, ``period``, ``treat``), clustered by team.

    ``groups`` gives each cell's coefficient label (``labels`` in pyfixest's coefficient order; other values
    belong to none): the jackknife replicates estimate the same coefficients. ``fitter="closed_form"`` takes
    the coefficients from the jackknife's own full-sample fit instead of pyfixest (equal to 1e-8; a thousand
    simulated rollouts in minutes rather than an hour, ``benchmarks/rollout_null.py``).
    """
    full, covariance = team_jackknife(cells, groups, labels)
    teams = int(cells["team"].nunique())
    if fitter == "closed_form":
        names = [str(label) for label in labels]
        return ClusteredFit(pd.Series(full, index=names), pd.DataFrame(covariance, index=names, columns=names), teams, None)
    import pyfixest as pf

    data = cells.assign(team=cells["team"].astype(str), treat=cells["treat"].astype(bool), one=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest's notes on singleton fixed effects and dtypes: not for a report
        fit = pf.did2s(data, yname="y", first_stage=FIRST_STAGE, second_stage=second_stage, treatment="treat",
                       cluster="team", weights="w")
    names = list(fit.coef().index)
    return ClusteredFit(fit.coef(), pd.DataFrame(covariance, index=names, columns=names), teams, fit)


def comparable(cells: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Cells the imputation cannot use: teams with no week before adopting, and adopted cells in weeks
    when no team was left without the change (no week effect to impute from).

    Returns
    -------
    tuple of pandas.Series
        Boolean masks over ``cells``: ``no_before`` and ``no_comparison``.
    """
    untreated = cells["treat"] == 0
    teams_with_before = set(cells.loc[untreated, "team"])
    weeks_with_comparison = set(cells.loc[untreated, "week"])
    no_before = ~cells["team"].isin(teams_with_before)
    no_comparison = ~no_before & (cells["treat"] == 1) & ~cells["week"].isin(weeks_with_comparison)
    return no_before, no_comparison


def att(cells: pd.DataFrame, outcome: str, alpha: float, fitter: str = "pyfixest") -> tuple[Estimate, ClusteredFit]:
    """The average effect of adoption on the adopted cells' ``outcome`` (ticket-weighted)."""
    fit = did2s(cells, "~treat", cells["treat"].to_numpy(), [1], fitter)
    name = fit.coef.index[0]
    value, se = float(fit.coef.iloc[0]), float(np.sqrt(fit.vcov.loc[name, name]))
    low, high = wald_interval(value, se, alpha, fit.df)
    treated = cells["treat"] == 1
    return Estimate(
        f"rollout_att_{outcome}", f"{OUTCOMES[outcome][0]}: change after adoption in adopting teams, against teams "
        "not yet adopted (DiD)", value, se, low, high, wald_p_value(value, se, fit.df), int(cells["w"].sum()), METHOD,
        1 - alpha, {"teams": fit.teams, "df": fit.df, "cells": len(cells), "treated_cells": int(treated.sum()),
                    "treated_tickets": int(cells.loc[treated, "w"].sum()),
                    "se_pyfixest_gmm": float(np.sqrt(np.asarray(fit.fit._vcov)[0, 0])) if fit.fit is not None else None},
        f"{outcome} ~ 0 | team + week on cells not yet adopted; residual ~ treat (weights: tickets)",
        Interval("wald", df=fit.df)), fit


def event_study(cells: pd.DataFrame, outcome: str, alpha: float, window: int = WINDOW,
                fitter: str = "pyfixest") -> tuple[pd.DataFrame, PreTrend | str]:
    """Effects by week since adoption, far weeks binned at ``+-window``, and the joint test of the weeks before.

    Weeks 0, 1, ... after adoption come from the two-stage fit with one effect per week (``~i(event)``). The
    weeks before come from the pre-trend regression (:func:`pretrend_test`), measured against week -1,
    which is drawn at 0.

    Returns
    -------
    tuple
        A table indexed by ``event_week`` with ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``cells``,
        ``tickets`` and ``source``, and the pre-trend test (or why there is none).
    """
    event = event_bins(cells["event_week"], window)
    # Cells not yet adopted get no effect of their own in the second stage: the reference (-1) holds them all.
    data = cells.assign(event=event.where(cells["treat"] == 1, -1).fillna(-1).astype(int))
    weeks = sorted(k for k in data["event"].unique() if k != -1)  # pyfixest's i() orders its levels so
    fit = did2s(data, "~i(event, ref=-1)", data["event"].to_numpy(), weeks, fitter)
    rows = []
    for k, (name, value) in zip(weeks, fit.coef.items()):
        rows.append(_event_row(k, float(value), float(np.sqrt(fit.vcov.loc[name, name])), fit.df, alpha,
                               data[data["event"] == k], "two-stage DiD"))
    test, leads = pretrend_test(cells, window)
    before = event.where(cells["treat"] == 0)
    for k, row in (leads.iterrows() if leads is not None else ()):
        rows.append(_event_row(int(k), row["estimate"], row["se"], test.df_den + test.df_num - 1, alpha,
                               cells[before == k], "pre-trend regression"))
    reference = cells[before == -1]
    rows.append({"event_week": -1, "estimate": 0.0, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "cells": len(reference), "tickets": int(reference["w"].sum()), "source": "reference"})
    return pd.DataFrame(rows).set_index("event_week").sort_index(), test


def _event_row(k: int, value: float, se: float, df: int, alpha: float, cells: pd.DataFrame, source: str) -> dict:
    low, high = wald_interval(value, se, alpha, df)
    return {"event_week": k, "estimate": value, "se": se, "ci_low": low, "ci_high": high, "cells": len(cells),
            "tickets": int(cells["w"].sum()), "source": source}


@dataclass(frozen=True)
class PreTrend:
    """Joint Wald test that the adopting teams moved like the others in the weeks before adopting.

    Borusyak, Jaravel and Spiess's test: on the cells not yet adopted only, the outcome is regressed on team
    and week effects and on indicators of weeks -window..-2 before adoption (week -1 and the teams that
    never adopted the reference), weighted by tickets, CR1 standard errors clustered by team. Under parallel
    trends and no anticipation the indicators are zero. The Wald statistic W of the q indicators, with a
    covariance estimated from G teams, is read as Hotelling's T²: F = W (G - q) / (q (G - 1)) against
    F(q, G - q).
    """

    statistic: float
    df_num: int
    df_den: int
    p_value: float
    leads: list[int]


def pretrend_test(cells: pd.DataFrame, window: int = WINDOW) -> tuple[PreTrend | str, pd.DataFrame | None]:
    """The joint test of the weeks before adoption and their estimates, or why it cannot be made."""
    before = cells[cells["treat"] == 0]
    event = event_bins(before["event_week"], window)
    leads = sorted(int(k) for k in event.dropna().unique() if k <= -2)
    teams = int(before["team"].nunique())
    if not leads:
        return "no week before adoption other than the reference week (-1): no lead to test", None
    if len(leads) >= teams - 1:
        return (f"{len(leads)} weeks before adoption to test and {teams} teams: a joint test with team-clustered errors "
                "needs at least two teams more than weeks tested"), None
    x = pd.concat([pd.get_dummies(before["team"].astype(str), dtype=float),
                   pd.get_dummies(before["period"], prefix="week", dtype=float).iloc[:, 1:],
                   pd.DataFrame({f"lead{k}": (event == k).astype(float) for k in leads})], axis=1)
    fit = WLS(before["y"].to_numpy(), x.to_numpy(), weights=before["w"].to_numpy()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(before["team"])[0]})
    index = [list(x.columns).index(f"lead{k}") for k in leads]
    b, v = fit.params[index], fit.cov_params()[np.ix_(index, index)]
    try:
        wald = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        # A week before adoption seen in one team only is fixed by that team's own effect: no test of it.
        return "the weeks before adoption cannot be told apart from the teams' own levels on these cells", None
    q = len(leads)
    statistic = wald * (teams - q) / (q * (teams - 1))
    table = pd.DataFrame({"estimate": b, "se": np.sqrt(np.diag(v))}, index=pd.Index(leads, name="event_week"))
    return PreTrend(statistic, q, teams - q, float(stats.f.sf(statistic, q, teams - q)), leads), table


def naive(cells: pd.DataFrame, outcome: str, alpha: float) -> Estimate:
    """Mean after adoption minus mean before, over the adopting teams' tickets (no comparison group).

    Team-clustered least squares of the cell means on ``after`` weighted by tickets (equal to the ticket-level
    difference in means; CR1, t with G - 1 df); with a single unit (no team column) Welch's t-test from the
    cells' sums of squares.
    """
    adopters = cells[cells["adoption_week"].notna()]
    teams = int(adopters["team"].nunique())
    label = f"{OUTCOMES[outcome][0]}: naive before/after (mean after adoption minus mean before, adopting teams only)"
    if teams >= 2:
        design = add_constant(adopters["treat"].astype(float).to_numpy())
        codes = pd.factorize(adopters["team"])[0]
        fit = WLS(adopters["y"].to_numpy(), design, weights=adopters["w"].to_numpy()).fit(
            cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        value, se, df = float(fit.params[1]), float(fit.bse[1]), teams - 1
        method = "naive before/after: weighted least squares of team-week means on after, CR1 clustered by team, t with G-1 df"
    else:
        value, se, df = _welch(adopters)
        method = "naive before/after: Welch t-test on tickets (one unit)"
    low, high = wald_interval(value, se, alpha, df)
    return Estimate(f"rollout_naive_{outcome}", label, value, se, low, high, wald_p_value(value, se, df),
                    int(adopters["w"].sum()), method, 1 - alpha, {"teams": teams, "df": df}, "",
                    Interval("wald", df=df))


def _welch(cells: pd.DataFrame) -> tuple[float, float, float]:
    """Welch's difference after minus before from cell counts, means and sums of squares."""
    parts = []
    for side in (1, 0):
        group = cells[cells["treat"] == side]
        n = group["w"].sum()
        mean = (group["w"] * group["y"]).sum() / n
        ss = group["ss"].sum() - n * mean**2
        parts.append((n, mean, ss / (n - 1)))
    (n1, m1, v1), (n0, m0, v0) = parts
    se = float(np.sqrt(v1 / n1 + v0 / n0))
    df = (v1 / n1 + v0 / n0) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    return float(m1 - m0), se, float(df)
