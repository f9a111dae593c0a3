"""Staggered difference-in-differences on team x week cells: the naive comparison, the ATT and the event study.

The estimator is Gardner's two-stage difference-in-differences (``pyfixest.did2s``), which is the
imputation estimator of Borusyak, Jaravel and Spiess: team and week effects are fitted on the cells of
teams that had not (yet) adopted, each adopted cell's outcome without the change is imputed from them,
and the average effect on the treated is the weighted mean of the adopted cells' differences. Unlike a
two-way fixed-effects regression, it never compares a late adopter with an early one after both
adopted, so effects that differ by cohort or grow with time since adoption do not bias it.

Inference: pyfixest's two-stage (GMM) variance clustered by team, scaled by G / (G - 1) and read
against Student's t with G - 1 degrees of freedom (pyfixest uses the residual degrees of freedom of the
cells, close to the normal): with 10-40 teams that is what keeps intervals at their stated coverage
(``benchmarks/rollout_null.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from study.core.inference import Interval, wald_interval, wald_p_value
from study.core.results import Estimate
from study.rollout.panel import OUTCOMES, event_bins

# Team and week effects as dummies, absorbing only a constant (did2s needs a fixed effect): the same model as
# ``~0|team+period``, solved exactly, where absorbing two effects demeans them iteratively to a tolerance of about
# 1e-8 (with a few hundred cells the dummies cost nothing).
FIRST_STAGE = "~C(team)+C(period)|one"
WINDOW = 8  # event-study leads and lags beyond +-8 weeks are binned into the end weeks
METHOD = ("Gardner two-stage DiD (pyfixest.did2s; the imputation estimator): team and week effects fitted on cells "
          "not yet adopted, weighted by tickets; variance clustered by team (two-stage GMM) times G/(G-1), t with G-1 df")


@dataclass(frozen=True)
class ClusteredFit:
    """Coefficients of a two-stage fit with the small-cluster variance and degrees of freedom used here."""

    coef: pd.Series
    vcov: pd.DataFrame
    teams: int
    fit: object  # the pyfixest Feols, as pyfixest returned it

    @property
    def df(self) -> int:
        return self.teams - 1


def did2s(cells: pd.DataFrame, second_stage: str) -> ClusteredFit:
    """``pyfixest.did2s`` on weighted cells (``y``, ``w``, ``team``, ``period``, ``treat``), clustered by team.

    Returns the coefficients and pyfixest's variance times G / (G - 1).
    """
    import pyfixest as pf

    data = cells.assign(team=cells["team"].astype(str), treat=cells["treat"].astype(bool), one=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest's notes on singleton fixed effects and dtypes: not for a report
        fit = pf.did2s(data, yname="y", first_stage=FIRST_STAGE, second_stage=second_stage, treatment="treat",
                       cluster="team", weights="w")
    names = list(fit.coef().index)
    teams = int(data["team"].nunique())
    vcov = pd.DataFrame(np.asarray(fit._vcov) * teams / (teams - 1), index=names, columns=names)
    return ClusteredFit(fit.coef(), vcov, teams, fit)


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


def att(cells: pd.DataFrame, outcome: str, alpha: float) -> tuple[Estimate, ClusteredFit]:
    """The average effect of adoption on the adopted cells' ``outcome`` (ticket-weighted)."""
    fit = did2s(cells, "~treat")
    name = fit.coef.index[0]
    value, se = float(fit.coef.iloc[0]), float(np.sqrt(fit.vcov.loc[name, name]))
    low, high = wald_interval(value, se, alpha, fit.df)
    treated = cells["treat"] == 1
    return Estimate(
        f"rollout_att_{outcome}", f"{OUTCOMES[outcome][0]}: change after adoption in adopting teams, against teams "
        "not yet adopted (DiD)", value, se, low, high, wald_p_value(value, se, fit.df), int(cells["w"].sum()), METHOD,
        1 - alpha, {"teams": fit.teams, "df": fit.df, "cells": len(cells), "treated_cells": int(treated.sum()),
                    "treated_tickets": int(cells.loc[treated, "w"].sum()),
                    "se_pyfixest": float(np.sqrt(np.asarray(fit.fit._vcov)[0, 0]))},
        f"{outcome} ~ 0 | team + week on cells not yet adopted; residual ~ treat (weights: tickets)",
        Interval("wald", df=fit.df)), fit


def event_study(cells: pd.DataFrame, outcome: str, alpha: float, window: int = WINDOW) -> tuple[pd.DataFrame, ClusteredFit]:
    """Effects by week since adoption (week -1 is the reference, drawn at 0), far weeks binned at ``+-window``.

    Returns
    -------
    tuple
        A table indexed by ``event_week`` with ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``cells`` and
        ``tickets``, and the fit.
    """
    data = cells.assign(event=event_bins(cells["event_week"], window).fillna(-1).astype(int))
    fit = did2s(data, "~i(event, ref=-1)")
    rows = []
    for name, value in fit.coef.items():
        k = int(str(name).split("::")[1].split(".")[0]) if "::" in str(name) else int(float(str(name).split("T.")[-1].rstrip("]")))
        se = float(np.sqrt(fit.vcov.loc[name, name]))
        low, high = wald_interval(float(value), se, alpha, fit.df)
        group = data["event"] == k
        rows.append({"event_week": k, "estimate": float(value), "se": se, "ci_low": low, "ci_high": high,
                     "cells": int(group.sum()), "tickets": int(data.loc[group, "w"].sum()), "coefficient": name})
    table = pd.DataFrame(rows).set_index("event_week").sort_index()
    reference = data["event"] == -1
    table.loc[-1] = {"estimate": 0.0, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "cells": int(reference.sum()),
                     "tickets": int(data.loc[reference, "w"].sum()), "coefficient": "reference"}
    return table.sort_index(), fit


@dataclass(frozen=True)
class PreTrend:
    """Joint Wald test that every lead (weeks -window..-2 before adoption) is zero: F(q, G - 1)."""

    statistic: float
    df_num: int
    df_den: int
    p_value: float
    leads: list[int]


def pretrend_test(table: pd.DataFrame, fit: ClusteredFit) -> PreTrend | str:
    """The joint test of the leads, or why it cannot be made (no lead; more leads than teams allow)."""
    leads = [k for k in table.index if k <= -2]
    if not leads:
        return "no week before adoption other than the reference week (-1): no lead to test"
    if len(leads) >= fit.teams - 1:
        return (f"{len(leads)} leads and {fit.teams} teams: a joint test with team-clustered errors needs fewer leads "
                "than teams less one")
    names = table.loc[leads, "coefficient"].tolist()
    b = fit.coef.loc[names].to_numpy()
    v = fit.vcov.loc[names, names].to_numpy()
    wald = float(b @ np.linalg.solve(v, b))
    q = len(leads)
    statistic = wald / q
    return PreTrend(statistic, q, fit.df, float(stats.f.sf(statistic, q, fit.df)), leads)


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
        design = sm.add_constant(adopters["treat"].astype(float).to_numpy())
        codes = pd.factorize(adopters["team"])[0]
        fit = sm.WLS(adopters["y"].to_numpy(), design, weights=adopters["w"].to_numpy()).fit(
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
