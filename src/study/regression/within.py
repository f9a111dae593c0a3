"""Linear models that hold agents fixed, and functions of coefficients taken from several models.

:func:`fit_within` is :func:`study.regression.fitting.fit_ols` with a fixed effect per agent
absorbed rather than entered as dummies (:mod:`study.stats.absorb`): the same coefficients and CR1
standard errors as statsmodels' OLS with ``C(agent_id)``, at the cost of one pass over the rows
whatever the number of agents.

:func:`joint_influence` gives each customer's contribution to the coefficients of one or more
fits, so that the covariance of coefficients from different models (on different rows of the
same customers) is the one clustered sandwich of the stacked estimating equations. It serves the
delta method for the total effect of speed (:func:`total_speed_effect`) and the change made by
holding agents fixed (:func:`study.regression.csat.without_agents`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core.accounting import RowLedger
from study.data.dataset import TicketData
from study.regression.adjustment import Adjustment
from study.regression.fitting import SPEED, cluster_cov_kwds, fit_ols, formula, model_frame
from study.stats.absorb import absorbed_model, fit_absorbed
from study.stats.design import design_matrix
from study.stats.ols import CholeskyOLS


def fit_within(rows: pd.DataFrame, outcome: str, numeric: list[str], categorical: list[str] = (),
               absorb: list[str] = (), cluster: str | None = "customer_id"):
    """OLS with robust standard errors, holding each column of ``absorb`` fixed by a fixed effect per value.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows to fit on, none missing a model column.
    outcome, numeric, categorical
        See :func:`study.regression.fitting.formula`.
    absorb : list of str
        At most one column (``agent_id``), absorbed by the within transformation; empty: plain
        :func:`study.regression.fitting.fit_ols`.
    cluster : str or None
        Cluster column for CR1 standard errors; ``None`` gives HC1.

    Returns
    -------
    fit : statsmodels RegressionResultsWrapper
        Without an intercept when a column is absorbed; ``fit.model.formula`` names the
        equivalent dummy model (``... + C(agent_id)``).
    absorbed : list of str
        Model terms constant within every agent, which the fixed effects hold and which have no
        coefficient of their own.
    """
    if not absorb:
        return fit_ols(rows, outcome, list(numeric), list(categorical), cluster=cluster), []
    model, absorbed = within_model(rows, outcome, numeric, categorical, absorb)
    if cluster is None:
        return fit_absorbed(model, "HC1"), absorbed
    groups = pd.factorize(rows[cluster])[0].astype(float)  # float codes: see study.regression.fitting.model_frame
    # Few customers: t(G - 1) critical values, the rule of study.regression.fitting.cluster_cov_kwds.
    return fit_absorbed(model, **cluster_cov_kwds(groups)), absorbed


def within_model(rows: pd.DataFrame, outcome: str, numeric: list[str], categorical: list[str], absorb: list[str]):
    """The model of :func:`fit_within` before fitting (:func:`study.stats.absorb.absorbed_model`), and its absorbed terms.

    Fit it with :func:`study.stats.absorb.fit_absorbed` under each covariance wanted.
    """
    if len(absorb) != 1:
        raise ValueError(f"one fixed effect can be absorbed, got {list(absorb)}")
    frame = model_frame(rows, [outcome, *numeric, *categorical], None)
    design = design_matrix(frame, formula(outcome, list(numeric), list(categorical)).split("~", 1)[1])
    text = formula(outcome, list(numeric), [*categorical, *absorb])
    return absorbed_model(frame[outcome], design, rows[absorb[0]].to_numpy(), formula=text)


def joint_influence(fits: list, cluster_codes: list[np.ndarray], n_clusters: int) -> np.ndarray:
    """Each cluster's contribution to the coefficients of every fit, side by side.

    Row c holds, for each fit, ``sqrt(f) (X'X)^-1 sum_{i in c} x_i e_i`` with ``f`` that fit's CR1
    factor ``G / (G - 1) (n - 1) / (n - k)`` (``k`` counting absorbed fixed effects, ``G`` its
    clusters). The cross product of the result is the clustered covariance of all coefficients
    together: each fit's own block is its CR1 covariance, and the blocks between fits are the
    sandwich of the stacked estimating equations (with the geometric mean of the two factors).

    Parameters
    ----------
    fits : list of statsmodels OLS results
    cluster_codes : list of numpy.ndarray
        For each fit, the cluster of each of its rows as integers 0 .. ``n_clusters`` - 1, one
        coding shared by all fits (a customer has the same code in every fit).
    n_clusters : int

    Returns
    -------
    numpy.ndarray, (n_clusters, total coefficients)
    """
    blocks = []
    for fit, codes in zip(fits, cluster_codes):
        exog, resid = np.asarray(fit.model.wexog, dtype=float), np.asarray(fit.resid, dtype=float)
        sums = np.column_stack([np.bincount(codes, exog[:, j] * resid, n_clusters) for j in range(exog.shape[1])])
        groups, n = int(np.count_nonzero(np.bincount(codes, minlength=n_clusters))), float(fit.nobs)
        factor = groups / (groups - 1) * (n - 1) / fit.model.df_resid
        blocks.append(np.sqrt(factor) * sums @ np.asarray(fit.normalized_cov_params))
    return np.hstack(blocks)


def cluster_codes(frames: list[pd.DataFrame], cluster: str) -> tuple[list[np.ndarray], int]:
    """One integer coding of ``cluster`` shared by several row sets (see :func:`joint_influence`).

    Row sets drawn from the largest one (answered surveys among all tickets) are coded by their
    index, without comparing identifiers again.
    """
    largest = max(frames, key=len)
    codes, uniques = pd.factorize(largest[cluster])
    by_row = pd.Series(codes, index=largest.index)
    if largest.index.is_unique and all(f.index.isin(largest.index).all() for f in frames):
        return [by_row.loc[f.index].to_numpy() for f in frames], len(uniques)
    union = pd.Index(pd.concat([f[cluster] for f in frames], ignore_index=True).unique())
    return [union.get_indexer(f[cluster]) for f in frames], len(union)


def path_rows(data: TicketData, held: Adjustment) -> tuple[pd.DataFrame, RowLedger]:
    """All tickets (answered or not) with speed, the flags, the confounders and the fixed effects known."""
    ledger = RowLedger(data.tickets, data.set_aside)
    return ledger.require([SPEED, *held.flags, *held.controls, *held.fixed_effects]), ledger


def path_fits(tickets: pd.DataFrame, flags: list[str], held: Adjustment) -> dict:
    """Each flag on speed, the confounders and the fixed effects (absorbed), on ``tickets``.

    One design serves every flag; the fits carry the classical covariance only (their clustered
    one comes from :func:`joint_influence`).
    """
    frame = model_frame(tickets, [*flags, SPEED, *held.controls], None)
    design = design_matrix(frame, formula(flags[0], [SPEED], held.controls).split("~", 1)[1])
    fits = {}
    for flag in flags:
        if held.fixed_effects:
            model = absorbed_model(frame[flag], design, tickets[held.fixed_effects[0]].to_numpy())[0]
        else:
            model = CholeskyOLS(frame[flag], design)
        fits[flag] = model.fit()
    return fits


def total_speed_effect(direct, rows: pd.DataFrame, data: TicketData, held: Adjustment,
                       cluster: str | None = "customer_id") -> tuple[float, float, dict]:
    """Speed's total effect on CSAT: its direct effect plus its paths through resolution and reopening.

    With CSAT linear in speed and the flags, the total effect of a doubling is
    ``b_speed + sum_f b_f g_f``: ``b`` from the CSAT model among respondents (``direct``), ``g_f``
    the slope of flag ``f`` on speed with the same confounders and fixed effects, fitted on all
    tickets. The paths are fitted on all tickets because answering depends on resolution and speed:
    among respondents resolution goes with speed even where speed does not move it, and a
    regression of CSAT on speed without resolution would pick that up (about +0.006 per doubling
    on the default simulation). The standard error is the delta method's with the clustered
    covariance of all coefficients together (:func:`joint_influence`).

    Parameters
    ----------
    direct : statsmodels OLS results
        CSAT on speed, ``held.flags``, the confounders and fixed effects, fitted on ``rows``.
    rows : pandas.DataFrame
        The rows of ``direct``.
    data : TicketData
    held : Adjustment
        What ``direct`` held fixed (narrowed to its rows).
    cluster : str or None
        Cluster column; ``None``: heteroskedasticity-robust (each ticket its own cluster, HC1).

    Returns
    -------
    value, se : float
    parts : dict
        ``fits`` (flag -> fit of the flag on speed), ``slopes`` (flag -> ``g_f``), ``through``
        (flag -> ``b_f g_f``), ``rows`` (tickets of the path models).
    """
    flags = [f for f in held.flags if f in direct.params.index]
    if not flags:
        return float(direct.params[SPEED]), float(direct.bse[SPEED]), {"fits": {}, "slopes": {}, "through": {}, "rows": 0}
    tickets, _ = path_rows(data, held)
    paths = path_fits(tickets, flags, held)
    # Without clusters each ticket is its own (HC1 is CR1 with one ticket per cluster).
    codes, n_clusters = cluster_codes([rows, *[tickets] * len(flags)], cluster or "ticket_id")
    value, se, through = combine_total(direct, paths, codes, n_clusters)
    slopes = {f: float(fit.params[SPEED]) for f, fit in paths.items()}
    return value, se, {"fits": paths, "slopes": slopes, "through": through, "rows": len(tickets)}


def combine_total(direct, paths: dict, codes: list[np.ndarray], n_clusters: int) -> tuple[float, float, dict]:
    """``b_speed + sum_f b_f g_f`` and its delta-method standard error (see :func:`total_speed_effect`).

    Parameters
    ----------
    direct : statsmodels OLS results
        CSAT on speed and the flags (and the rest).
    paths : dict
        Flag -> fit of the flag on speed (and the rest), in the order of ``codes[1:]``.
    codes, n_clusters
        See :func:`joint_influence`: ``codes[0]`` for ``direct``'s rows, then one per path fit.

    Returns
    -------
    value, se : float
    through : dict
        Flag -> ``b_f g_f``, the part of the total effect running through that flag.
    """
    influence = joint_influence([direct, *paths.values()], codes, n_clusters)
    gradient = [np.zeros(len(direct.params))] + [np.zeros(len(fit.params)) for fit in paths.values()]
    gradient[0][list(direct.params.index).index(SPEED)] = 1.0
    through = {}
    for i, (flag, fit) in enumerate(paths.items(), start=1):
        slope, effect = float(fit.params[SPEED]), float(direct.params[flag])
        gradient[0][list(direct.params.index).index(flag)] = slope
        gradient[i][list(fit.params.index).index(SPEED)] = effect
        through[flag] = effect * slope
    value = float(direct.params[SPEED]) + sum(through.values())
    se = float(np.sqrt(np.sum((influence @ np.concatenate(gradient)) ** 2)))
    return value, se, through
