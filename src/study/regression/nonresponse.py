"""Who answers the CSAT survey, and what the answers would say if everyone had answered.

A logit of answering on the experience the customer lived (log2 first-response hours, resolution,
reopening) and the known confounders gives each ticket its probability of an answer. Weighting
each answer by the inverse of that probability (normalized, Hájek) stands respondents in for
all tickets, which corrects the mean CSAT when unhappy experiences answer more often. The
correction is valid when answering depends only on what the model sees (missing at random); it
cannot repair non-response that depends on the satisfaction itself.

Variance: the weighted estimates and the response logit are solved together as one set of
estimating equations, and the sandwich sums each customer's contributions, so the standard errors
account both for clustering by customer and for the weights being estimated. Estimating the
weights usually lowers the variance of the weighted mean; the weights-known standard error (what a
weighted regression reports) is kept beside it in ``extra``.

The adjusted CSAT-per-doubling slope conditions on everything that drives answering, so the
complete-case and the weighted slopes estimate the same thing; their agreement is a check. Both
hold agents fixed (absorbed, weighted within agents for IPW); the response logit enters them as
dummies up to 200 agents (:mod:`study.regression.agent_terms`); the notes say which.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import WLS

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate
from study.data.dataset import TicketData
from study.regression import agent_terms
from study.regression.adjustment import adjustment, on_rows
from study.regression.fitting import (
    SPEED,
    coefficient,
    fit_logit,
    fit_ols,
    formula,
    model_frame,
    model_text,
    term_label,
)
from study.regression.within import fit_within
from study.stats.cluster import cluster_sums, cr1_factor
from study.stats.design import formula_model
from study.stats.margins import logit_marginal_effects

NAMES = {
    "mean_complete_case": "csat_mean_respondents",
    "mean_ipw": "csat_mean_ipw",
    "slope_complete_case": "csat_per_doubling_complete_case",
    "slope_ipw": "csat_per_doubling_ipw",
}
_AME_LABELS = {
    SPEED: ("survey_response_per_doubling", "Change in the probability of answering the survey per doubling of first response time"),
    "resolved": ("survey_response_resolved", "Change in the probability of answering the survey for a resolved case"),
    "reopened": ("survey_response_reopened", "Change in the probability of answering the survey for a reopened case"),
}


@dataclass
class SurveyNonresponse:
    """The survey's response model and complete-case versus inverse-probability-weighted CSAT.

    Attributes
    ----------
    response : list of Estimate
        Average marginal effects on the probability of answering (0.01 = 1 percentage point).
    means : list of Estimate
        Mean CSAT of the answers (complete case) and weighted to all tickets (IPW).
    slopes : list of Estimate
        Adjusted CSAT points per doubling of first response time, complete case and IPW.
    weights : pandas.Series
        Diagnostics: respondents, smallest and largest probability of answering and weight,
        Kish effective sample size and its share of the respondents.
    balance : pandas.DataFrame
        Mean of each response-model term over all tickets, over respondents, and over
        respondents weighted, with the standardized differences from all tickets.
    propensity : pandas.Series
        Each analysed ticket's estimated probability of answering (index of the tickets).
    controls, flags : list of str
    ledger : RowLedger
        Rows of the response model (all tickets with the model's variables).
    fits : dict
        ``response`` (logit), ``mean_complete_case``, ``mean_ipw``, ``slope_complete_case``,
        ``slope_ipw`` (statsmodels results; the IPW fits are WLS with weights-known SEs).
    notes : list of str
    skipped : str or None
    """

    response: list[Estimate]
    means: list[Estimate]
    slopes: list[Estimate]
    weights: pd.Series
    balance: pd.DataFrame
    propensity: pd.Series
    controls: list[str]
    flags: list[str]
    ledger: RowLedger
    fits: dict
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def estimates(self) -> list[Estimate]:
        return [*self.response, *self.means, *self.slopes]

    @property
    def weight_table(self) -> pd.DataFrame:
        """The weight diagnostics as a one-column table."""
        return self.weights.to_frame()

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``."""
        return next(e for e in self.estimates if e.name == name)


def expected_values(truth: dict | None) -> dict[str, float]:
    """The true value of each estimate of :func:`survey_nonresponse`, for simulated data."""
    if not truth:
        return {}
    return {
        NAMES["mean_complete_case"]: truth["csat_mean_respondents"],
        NAMES["mean_ipw"]: truth["csat_mean_all_tickets"],
        NAMES["slope_complete_case"]: truth["csat_per_doubling_response_time"],
        NAMES["slope_ipw"]: truth["csat_per_doubling_response_time"],
    }


def ipw_influence(
    response_design: np.ndarray, answered: np.ndarray, propensity: np.ndarray, outcome_design: np.ndarray,
    residual: np.ndarray, estimated_weights: bool = True,
) -> np.ndarray:
    """Each ticket's influence on inverse-probability-weighted least-squares coefficients.

    The response logit's score ``psi1 = (R - p) x`` and the weighted normal equations
    ``psi2 = R / p * z * (y - z'b)`` are solved together; the influence of a ticket on ``b`` is
    ``A22^-1 (psi2 - A21 A11^-1 psi1)`` with ``A11 = sum p (1 - p) x x'`` (the logit information),
    ``A22 = sum R / p * z z'`` and ``A21 = sum R (1 - p) / p * e * z x'`` (how the weighted
    equations move with the logit's coefficients). ``b_hat - b`` is, to first order, the sum of
    the influences.

    Parameters
    ----------
    response_design : numpy.ndarray, (n, k1)
        The response logit's design, all tickets.
    answered : numpy.ndarray of bool, (n,)
    propensity : numpy.ndarray, (n,)
        Fitted probability of answering.
    outcome_design : numpy.ndarray, (m, k2)
        The weighted regression's design, respondents only, in the order they appear among the n.
    residual : numpy.ndarray, (m,)
        The weighted regression's residuals ``y - z'b``.
    estimated_weights : bool
        False treats the weights as known (drops the ``A21`` term).

    Returns
    -------
    numpy.ndarray, (n, k2)
    """
    p_answered = propensity[answered]
    weight = 1.0 / p_answered
    bread = outcome_design.T @ (outcome_design * weight[:, None])
    influence = np.zeros((len(answered), outcome_design.shape[1]))
    influence[answered] = outcome_design * (weight * residual)[:, None]
    if estimated_weights:
        information = response_design.T @ (response_design * (propensity * (1 - propensity))[:, None])
        sensitivity = outcome_design.T @ (response_design[answered] * (residual * (1 - p_answered) / p_answered)[:, None])
        score = response_design * (answered - propensity)[:, None]
        influence -= score @ np.linalg.solve(information, sensitivity.T)
    return np.linalg.solve(bread, influence.T).T


def stacked_covariance(
    response_design: np.ndarray, answered: np.ndarray, propensity: np.ndarray, outcome_design: np.ndarray,
    residual: np.ndarray, clusters: np.ndarray, estimated_weights: bool = True, absorbed: int = 0,
) -> np.ndarray:
    """Cluster-robust covariance of inverse-probability-weighted least squares.

    The influences of :func:`ipw_influence` are summed within clusters and their outer products
    added up, times the weighted regression's CR1 factor G/(G - 1) (m - 1)/(m - k2), with G the
    clusters among respondents and m the respondents, so that ``estimated_weights=False``
    reproduces a weighted regression's clustered covariance exactly.

    Parameters
    ----------
    response_design, answered, propensity, outcome_design, residual, estimated_weights
        See :func:`ipw_influence`.
    clusters : numpy.ndarray, (n,)
        Cluster label of each ticket.
    absorbed : int
        Fixed effects absorbed from the weighted regression (agents): ``outcome_design`` is then
        weighted-demeaned within them, its influences are those of the model with their dummies
        (Frisch-Waugh-Lovell), and the CR1 factor counts them among the columns.

    Returns
    -------
    numpy.ndarray, (k2, k2)
    """
    influence = ipw_influence(response_design, answered, propensity, outcome_design, residual, estimated_weights)
    codes = pd.factorize(clusters)[0]
    per_cluster, _ = cluster_sums(influence, codes)
    groups = np.count_nonzero(np.bincount(codes[answered]))  # the weighted regression's clusters: respondents'
    return cr1_factor(groups, int(answered.sum()), outcome_design.shape[1] + absorbed) * per_cluster.T @ per_cluster


def _weighted_estimate(fit, term: str, covariance: np.ndarray, name: str, label: str, method: str, alpha: float,
                       test_zero: bool) -> Estimate:
    column = fit.model.exog_names.index(term)
    value, se = float(fit.params[term]), float(np.sqrt(covariance[column, column]))
    z = critical_value(alpha)
    return Estimate(
        name=name, label=label, value=value, se=se, ci_low=value - z * se, ci_high=value + z * se,
        p_value=wald_p_value(value, se) if test_zero else None, n=int(fit.nobs), method=method,
        ci_level=1 - alpha, extra={"se_weights_known": float(fit.bse[term])}, model=model_text(fit), interval=WALD,
    )


def response_marginal_effects(fit, terms: list[str], method: str, alpha: float = 0.05) -> list[Estimate]:
    """Average marginal effects of the response logit on the probability of answering.

    Speed gets the average derivative (per doubling); a 0/1 flag gets the average change in
    probability from 0 to 1 for every ticket, the effect of the flag itself. (Treating a flag as
    continuous instead gives the average derivative, which differs when the logit bends.)

    Parameters
    ----------
    fit : statsmodels logit results
    terms : list of str
        Terms to report, from ``response_log2_hours``, ``resolved``, ``reopened``.
    method : str
    alpha : float

    Returns
    -------
    list of Estimate
        Delta-method SEs from the fit's (clustered) covariance.
    """
    frame = logit_marginal_effects(fit, terms, alpha)  # statsmodels' get_margeff(dummy=True) numbers
    out = []
    for term in terms:
        row = frame.loc[term]
        name, label = _AME_LABELS[term]
        out.append(Estimate(
            name=name, label=label, value=float(row["dy/dx"]), se=float(row["Std. Err."]), ci_low=float(row.iloc[4]),
            ci_high=float(row.iloc[5]), p_value=float(row["Pr(>|z|)"]), n=int(fit.nobs), method=method,
            ci_level=1 - alpha, model=model_text(fit), interval=WALD,
        ))
    return out


def _balance(design: pd.DataFrame, answered: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    terms = design.drop(columns="Intercept")
    all_mean = terms.mean()
    spread = terms.std().replace(0.0, np.nan)
    respondents = terms[answered]
    table = pd.DataFrame({
        "all tickets": all_mean,
        "respondents": respondents.mean(),
        "respondents, weighted": respondents.mul(weight, axis=0).sum() / weight.sum(),
    })
    table["standardized difference, unweighted"] = (table["respondents"] - table["all tickets"]) / spread
    table["standardized difference, weighted"] = (table["respondents, weighted"] - table["all tickets"]) / spread
    table.index = pd.Index([term_label(t) for t in table.index], name="term")
    return table


def _skipped(reason, ledger, flags, controls, notes) -> SurveyNonresponse:
    return SurveyNonresponse([], [], [], pd.Series(dtype=float), pd.DataFrame(), pd.Series(dtype=float),
                             controls, flags, ledger, {}, notes, reason)


def survey_nonresponse(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> SurveyNonresponse:
    """Who answers the CSAT survey, and mean CSAT and the speed slope corrected for who answers.

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    cluster : str
        Column whose values define clusters for every standard error.

    Returns
    -------
    SurveyNonresponse
        Empty estimates and ``skipped`` set when everyone or no one answered, or too few
        respondents remain for the model.
    """
    held = adjustment(data)
    flags, controls, notes = held.flags, held.controls, [*held.notes, *held.fixed_effect_notes]
    ledger = RowLedger(data.tickets, data.set_aside)
    rows = ledger.require([SPEED, *flags, *controls, *held.fixed_effects])
    answered = rows["csat_answered"].to_numpy(dtype=bool)
    terms = 2 + len(flags) + sum(rows[c].nunique() - 1 for c in controls)
    if answered.all() or not answered.any():
        return _skipped(f"{'every' if answered.all() else 'no'} ticket has a survey answer; there is no "
                        "non-response to model", ledger, flags, controls, notes)
    reason = degenerate.first(
        degenerate.no_rows(rows, "tickets"), degenerate.no_variation(rows, SPEED), degenerate.too_few_clusters(rows, cluster),
        degenerate.constant(rows[rows["csat_answered"]], "csat") if rows["csat_answered"].any() else None,
    )
    if reason:
        return _skipped(reason, ledger, flags, controls, notes)
    if answered.sum() <= terms or rows.loc[answered, "csat"].nunique() < 2:
        return _skipped(f"{int(answered.sum())} answers, too few (or all alike) for {terms} model terms",
                        ledger, flags, controls, notes)

    respondents = rows[answered]
    # The slopes absorb agents (any number); the response logit enters them as dummies (up to 200).
    slope_held = agent_terms.for_absorbing(on_rows(held, respondents), respondents, [SPEED, *flags])
    fixed = [c for c in slope_held.fixed_effects if c in held.fixed_effects]
    rarer = int(min(answered.sum(), (~answered).sum()))
    response_held = agent_terms.for_dummies(held, rows, rarer, [SPEED, *flags], "csat_answered")
    response = fit_logit(rows, "csat_answered", [SPEED, *flags], response_held.categorical, cluster)
    if response_held.fixed_effects and degenerate.separated(response):
        response_held = held.without_fixed_effects("some agent's tickets were all answered, or none were: the logit separates")
        response = fit_logit(rows, "csat_answered", [SPEED, *flags], controls, cluster)
    notes = [*held.notes, *slope_held.fixed_effect_notes]
    if held.fixed_effects and not response_held.fixed_effects:
        notes.append("survey-response logit: " + response_held.fixed_effect_notes[0])
    propensity = np.asarray(response.predict())
    held_fixed = "".join(f" + {term}" for term in [*flags, *controls])
    response_agents = f"; {agent_terms.dummy_words(response_held)}" if held.fixed_effects else ""
    slope_agents = f"; {slope_held.fixed_effect_words}" if held.fixed_effects else ""
    se_words = f"SE clustered by {cluster}"
    response_effects = response_marginal_effects(
        response, [SPEED, *flags],
        f"logit csat_answered ~ log2 response hours{held_fixed}{response_agents}, average marginal effect (flags: average "
        f"change from 0 to 1); delta method; {se_words}", alpha,
    )

    weight = 1.0 / propensity[answered]
    frame = model_frame(respondents, ["csat", SPEED, *flags, *controls], cluster)
    groups = {"groups": frame["_cluster"].to_numpy()}
    slope_text = formula("csat", [SPEED, *flags], controls)
    fits = {
        "response": response,
        "mean_complete_case": fit_ols(respondents, "csat", [], cluster=cluster),
        "mean_ipw": formula_model(WLS, formula("csat", []), frame, weights=weight).fit(cov_type="cluster", cov_kwds=groups),
        "slope_complete_case": fit_within(respondents, "csat", [SPEED, *flags], controls, fixed, cluster=cluster)[0],
    }
    if fixed:
        fits["slope_ipw"] = agent_terms.weighted_within_fit(
            frame, "csat", slope_text.split("~", 1)[1], respondents[fixed[0]].to_numpy(), weight, groups["groups"],
            formula("csat", [SPEED, *flags], [*controls, *fixed]))[0]
    else:
        fits["slope_ipw"] = formula_model(WLS, slope_text, frame, weights=weight).fit(cov_type="cluster", cov_kwds=groups)

    clusters = pd.factorize(rows[cluster])[0]
    ipw_method = (
        f"inverse-probability-weighted (Hájek) {{what}}, weights 1/P(answer) from logit csat_answered ~ log2 response "
        f"hours{held_fixed}{response_agents}; SE clustered by {cluster} and accounting for the estimated weights "
        f"(stacked estimating equations); assumes answering depends only on the variables in the response model"
    )

    def weighted(key: str, term: str, label: str, what: str, test_zero: bool) -> Estimate:
        fit = fits[key]
        covariance = stacked_covariance(response.model.exog, answered, propensity, fit.model.exog, np.asarray(fit.resid),
                                        clusters, absorbed=int(getattr(fit.model, "absorbed_groups", 0)))
        return _weighted_estimate(fit, term, covariance, NAMES[key], label, ipw_method.format(what=what), alpha, test_zero)

    means = [
        coefficient(fits["mean_complete_case"], "Intercept", NAMES["mean_complete_case"],
                    "Mean CSAT of the survey answers (complete case; over-represents bad experiences)",
                    f"mean of the answers; {se_words}", alpha),
        weighted("mean_ipw", "Intercept", "Mean CSAT weighted to all tickets, answered or not (IPW)", "mean", False),
    ]
    means[0] = _without_p(means[0])
    slope_method = f"OLS csat ~ log2 response hours{held_fixed}{slope_agents}; {se_words}; observational, adjusted; survey respondents"
    slopes = [
        coefficient(fits["slope_complete_case"], SPEED, NAMES["slope_complete_case"],
                    "CSAT points per doubling of first response time, adjusted, complete case", slope_method, alpha),
        weighted("slope_ipw", SPEED, "CSAT points per doubling of first response time, adjusted, weighted to all tickets (IPW)",
                 f"least squares csat ~ log2 response hours{held_fixed}{slope_agents}", True),
    ]

    ess = weight.sum() ** 2 / (weight**2).sum()
    diagnostics = pd.Series({
        "tickets": len(rows), "respondents": int(answered.sum()),
        "lowest probability of answering": propensity.min(), "highest probability of answering": propensity.max(),
        "smallest weight": weight.min(), "largest weight": weight.max(), "mean weight": weight.mean(),
        "effective sample size (Kish)": ess, "effective share of respondents": ess / answered.sum(),
    }, name="inverse-probability weights")
    exog = pd.DataFrame(response.model.exog, columns=response.model.exog_names)  # agent dummies: not tabled
    balance = _balance(exog[[c for c in exog.columns if not agent_terms.is_agent_term(c)]], answered, weight)
    return SurveyNonresponse(
        response_effects, means, slopes, diagnostics, balance, pd.Series(propensity, index=rows.index, name="propensity"),
        controls, flags, ledger, fits, notes,
    )


def _without_p(estimate: Estimate) -> Estimate:
    # A mean CSAT has no null value of interest to test against.
    return replace(estimate, p_value=None)
