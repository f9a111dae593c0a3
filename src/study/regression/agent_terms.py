"""How the models other than the adjusted CSAT model hold agents fixed, and the rule for each kind.

Agent skill raises resolution and CSAT (and, where skilled agents also reply faster, speed), so
every observational model that compares tickets should compare tickets handled by the same agent.

- Linear models (the mediation's two models, the survey-response slopes) absorb a fixed effect per
  agent (the within transformation, :mod:`study.stats.absorb`), whatever the number of agents:
  their coefficients are those of the same model with ``C(agent_id)`` dummies.
- Non-linear models (the repeat-purchase logits, the survey-response logit, the Cox model) cannot
  absorb a fixed effect; they enter agents as dummies when there are at most
  :data:`MAX_AGENT_DUMMIES` agents on their rows. Above that the design grows by a column per agent
  (a logit's information matrix, a Cox model's risk-set sums) and the model is fitted without
  agents, saying so. A logit or Cox model with agent dummies estimates effects within agents; with
  as many tickets per agent as here (thousands), the incidental-parameter bias of the dummies is
  negligible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import WLS

from study.core import degenerate
from study.regression.adjustment import Adjustment
from study.stats.absorb import _ABSORBED, fit_absorbed
from study.stats.design import design_matrix

MAX_AGENT_DUMMIES = 200  # agents a logit or Cox model enters as dummies; above it agents are not held fixed
AGENT = "agent_id"


def dummy_rule(count: int) -> str:
    """The rule in words, for a note."""
    return f"{count:,} agents, more than the {MAX_AGENT_DUMMIES} this model enters as dummies"


def for_dummies(held: Adjustment, rows: pd.DataFrame, events: int | None = None, numeric: list[str] = (),
                outcome: str | None = None) -> Adjustment:
    """``held`` for a model that enters agents as dummies on ``rows``: agents kept, or left out with the reason.

    Agents are left out (with a note saying they are not held fixed, and why) when there are more
    than :data:`MAX_AGENT_DUMMIES` of them; when ``events`` (the rarer outcome of a logit, the
    purchases of a Cox model) are too few for one coefficient per agent besides the others
    (``numeric`` and the controls); or when some agent's tickets all have the same ``outcome``
    (a logit or Cox model with that agent's dummy has no finite maximum: its coefficient runs off
    to infinity).
    """
    if AGENT not in held.fixed_effects:
        return held
    count = int(rows[AGENT].nunique())
    if count > MAX_AGENT_DUMMIES:
        return held.without_fixed_effects(dummy_rule(count))
    if events is not None:
        k = degenerate.parameters(rows, list(numeric), held.categorical)
        if events < k + 2:
            return held.without_fixed_effects(f"{events:,} events for {k} coefficients with a dummy per agent: too few")
    if outcome is not None and rows.groupby(AGENT, observed=True)[outcome].nunique().min() < 2:
        return held.without_fixed_effects(f"some agent's tickets all have the same {outcome}: a dummy per agent would separate them")
    return held


def for_absorbing(held: Adjustment, rows: pd.DataFrame, numeric: list[str]) -> Adjustment:
    """``held`` for a linear model absorbing agents on ``rows``: left out, saying why, when rows are too few for them.

    The rule of :func:`study.regression.models.csat_rows`: a fixed effect per agent needs more rows
    than coefficients; with too few the model runs without it rather than not at all.
    """
    if AGENT not in held.fixed_effects:
        return held
    k = degenerate.parameters(rows, list(numeric), held.categorical)
    levels = int(rows[AGENT].nunique())
    if degenerate.too_few_rows(rows, k) and not degenerate.too_few_rows(rows, k - levels + 1):
        return held.without_fixed_effects(f"{levels:,} agents for {len(rows):,} rows, too few to hold each agent fixed")
    return held


def dummy_words(held: Adjustment) -> str:
    """For a method text: "agent held fixed (dummies for 60 agents)" or "agent not held fixed (why)"."""
    if AGENT in held.fixed_effects:
        return f"agent held fixed (dummies for {held.levels[AGENT]:,} agents)"
    return held.fixed_effect_words


def is_agent_term(name: str) -> bool:
    """Whether a design column is an agent dummy (``C(agent_id)[T.A002]``)."""
    return name.startswith(f"C({AGENT})")


def weighted_demean(values: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each column of ``values`` minus its ``weights``-weighted mean within the group ``codes`` (0 .. G - 1).

    Weighted least squares with a dummy per group gives the other coefficients of the weighted
    regression of the weighted-demeaned outcome on the weighted-demeaned regressors
    (Frisch-Waugh-Lovell with the weighted inner product), and the same residuals.
    """
    values = np.asarray(values, dtype=float)
    total = np.bincount(codes, weights)
    two_d = values.reshape(len(values), -1)
    out = np.empty_like(two_d)
    for j in range(two_d.shape[1]):
        out[:, j] = two_d[:, j] - (np.bincount(codes, weights * two_d[:, j], total.size) / total)[codes]
    return out.reshape(values.shape)


def weighted_within_fit(frame: pd.DataFrame, outcome: str, rhs: str, agents: np.ndarray, weights: np.ndarray,
                        groups: np.ndarray, formula: str = ""):
    """Weighted least squares with a fixed effect per agent absorbed, as statsmodels' WLS with the agent dummies.

    The weighted-demeaned outcome on the weighted-demeaned design (:func:`weighted_demean`), with
    the residual degrees of freedom and the CR1 factor counting the absorbed agents
    (:func:`study.stats.absorb.fit_absorbed`): coefficients, residuals and clustered standard errors
    of ``sm.WLS(y, [X, C(agent_id)], weights).fit(cov_type="cluster")``. Design columns constant
    within every agent are left out (the fixed effects hold them).

    Returns
    -------
    fit : statsmodels RegressionResultsWrapper
        ``fit.model.exog`` is the demeaned design and ``fit.resid`` the residuals of the dummy model.
    absorbed : list of str
    """
    codes, levels = pd.factorize(np.asarray(agents))
    design = design_matrix(frame, rhs).drop(columns="Intercept", errors="ignore")
    within = weighted_demean(design.to_numpy(dtype=float), codes, weights)
    spread = ((design - design.mean()) ** 2).sum().to_numpy()
    kept = (within**2).sum(axis=0) > _ABSORBED * np.maximum(spread, 1e-300)
    exog = pd.DataFrame(within[:, kept], columns=design.columns[kept], index=frame.index)
    endog = pd.Series(weighted_demean(frame[outcome].to_numpy(dtype=float), codes, weights), index=frame.index, name=outcome)
    model = WLS(endog, exog, weights=weights, hasconst=False)
    n, k = exog.shape
    model.df_resid, model.df_model = float(n - k - len(levels)), float(k + len(levels) - 1)
    model.formula, model.absorbed_groups = formula, len(levels)
    return fit_absorbed(model, "cluster", {"groups": groups}), [c for c, keep in zip(design.columns, kept) if not keep]
