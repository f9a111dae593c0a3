"""Research-grade models of CSAT beyond the headline regression.

Standard-error sensitivity (robust, clustered by customer and by agent), the adjusted model without
agents held fixed (:mod:`study.regression.agents`), an ordered logit with average marginal effects on
P(CSAT >= 4), the dose-response of response time, speed x resolution, and standardized effect sizes.
All models use the rows of :func:`study.regression.models.csat_sample` and are observational: they
adjust for the known confounders only (the standard-error table and the standardized effects hold
agents fixed as the default adjusted model does; the ordered logit, the spline and the interaction
model do not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import patsy
from statsmodels.stats.outliers_influence import variance_inflation_factor

from study.core import degenerate
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate, Skipped
from study.data.dataset import TicketData
from study.regression.agents import without_agents  # noqa: F401 (the comparison with agents left out, public here)
from study.regression.fitting import (
    SPEED,
    cluster_cov_kwds,
    coefficient,
    fit_ols,
    formula,
    model_frame,
    term_label,
)
from study.regression.models import csat_problem, csat_rows, csat_sample
from study.regression.within import fit_within, within_model
from study.stats.absorb import fit_absorbed
from study.stats.design import design_matrix, formula_model
from study.stats.ols import CholeskyOLS
from study.stats.ordinal import OrderedLogitModel, upper_share_effect

TOP_TWO = 4  # CSAT of 4 or 5 counts as satisfied


def standard_error_sensitivity(data: TicketData, alpha: float = 0.05) -> pd.DataFrame | Skipped:
    """The adjusted speed and resolution coefficients under each standard-error choice.

    Heteroskedasticity-robust (HC1), clustered by customer, and, where ``agent_id`` exists,
    clustered by agent and two-way by customer and agent (with at least two agents). The model is
    the default adjusted one, agents held fixed where the data has them (absorbed; every small-sample
    factor counts the agent fixed effects as the dummy model would). The coefficients are the same
    in every row; only their uncertainty changes. With few clusters (agents) the clustered SEs are
    themselves noisy. Skipped, with the reason, when the answered surveys cannot support the model
    (:func:`study.regression.models.csat_problem`).

    Returns
    -------
    pandas.DataFrame
        One row per (standard error, term): coefficient, SE, CI, clusters.
    """
    rows, _, held = csat_rows(data)
    flags, controls, fixed = held.flags, held.controls, held.fixed_effects
    reason = csat_problem(rows, flags, controls, categorical=fixed)
    if reason:
        return Skipped("standard errors under other assumptions", reason)
    # One model, fitted once per covariance: the coefficients are the same in every row.
    if fixed:
        model, absorbed = within_model(rows, "csat", [SPEED, *flags], controls, fixed)
        flags = [f for f in flags if f not in absorbed]
        if SPEED in absorbed:
            return Skipped("standard errors under other assumptions", "first response time does not vary within agents")
        fit_with = partial(fit_absorbed, model)
    else:
        frame = model_frame(rows, ["csat", SPEED, *flags, *controls], None)
        model = formula_model(CholeskyOLS, formula("csat", [SPEED, *flags], controls), frame)
        fit_with = model.fit
    customer = pd.factorize(rows["customer_id"])[0].astype(float)  # float codes: see study.regression.fitting.model_frame
    choices = {"heteroskedasticity-robust (HC1)": ("HC1", {}, None), "clustered by customer": ("cluster", {"groups": customer}, customer)}
    if data.has("agent_id") and rows["agent_id"].nunique() > 1:  # one agent is one cluster: no SE by agent
        agent = pd.factorize(rows["agent_id"])[0].astype(float)
        choices["clustered by agent"] = ("cluster", {"groups": agent}, agent)
        choices["two-way: customer and agent"] = ("cluster", {"groups": np.column_stack([customer, agent])}, None)
    lines = []
    for label, (cov_type, kwds, groups) in choices.items():
        # Few clusters (agents): t(G - 1) critical values, the rule of study.regression.fitting.cluster_cov_kwds.
        fit = fit_with(**(cluster_cov_kwds(kwds["groups"]) if cov_type == "cluster" else {"cov_type": cov_type}))
        ci = fit.conf_int(alpha=alpha)
        for term in (SPEED, *flags[:1]):
            lines.append({
                "standard errors": label, "term": term_label(term), "coefficient": fit.params[term], "SE": fit.bse[term],
                "CI low": ci.loc[term, 0], "CI high": ci.loc[term, 1],
                "clusters": int(np.unique(groups).size) if groups is not None else pd.NA,
            })
    table = pd.DataFrame(lines).astype({"clusters": "Int64"})
    return table.sort_values("term", kind="stable").set_index(["term", "standard errors"])


@dataclass
class OrderedLogit:
    """Ordered logit of CSAT and its average marginal effects on P(CSAT >= 4).

    Attributes
    ----------
    fit : statsmodels OrderedResults
        Of a :class:`study.stats.ordinal.OrderedLogitModel` (statsmodels' ``OrderedModel``, logit link).
    effects : list of Estimate
        Average marginal effect of each term on the probability of a 4 or 5.
    thresholds : numpy.ndarray
        Cut points between the CSAT levels.
    """

    fit: object
    effects: list[Estimate]
    thresholds: np.ndarray


def ordered_logit(data: TicketData, alpha: float = 0.05) -> OrderedLogit | Skipped:
    """Ordered logit of CSAT on speed, resolution and controls; AMEs on P(CSAT >= 4).

    The model is statsmodels' ``OrderedModel`` (logit link) with exact derivatives
    (:class:`study.stats.ordinal.OrderedLogitModel`). It is fitted by BFGS, the default Nelder-Mead
    does not converge with this many terms; with the exact score BFGS takes the steps it took
    with numerical differences, so it stops where it did (the AMEs agree to about 1e-8), at a
    fraction of the passes over the data. SEs are clustered by customer (statsmodels' CR1
    sandwich from the exact Hessian and per-ticket score), the AMEs' by the delta method with
    their exact gradient. Agent fixed effects are left to the linear model: the ordered logit
    would need one parameter per agent.

    Returns
    -------
    OrderedLogit or Skipped
        Skipped, with the reason, when the answered surveys cannot support the model
        (:func:`study.regression.models.csat_problem`).

    Raises
    ------
    ValueError
        When a CSAT level has no answer (:func:`ordered_logit_or_skipped` skips instead).
    """
    rows, _, flags, controls = csat_sample(data)
    reason = csat_problem(rows, flags, controls, numeric=["threshold"] * 3)  # four cut points for one intercept
    if reason:
        return Skipped("ordered logit", reason)
    frame = model_frame(rows, ["csat", SPEED, *flags, *controls], "customer_id")
    design = design_matrix(frame, formula("csat", [SPEED, *flags], controls).split("~", 1)[1])
    design = design.drop(columns="Intercept")  # the cut points play the intercept's part
    # All five levels, so the cut between 3 and 4 is always the third one.
    levels = pd.Categorical(frame["csat"].astype(int), categories=[1, 2, 3, 4, 5], ordered=True)
    empty = [level for level, count in zip(levels.categories, np.bincount(levels.codes, minlength=5)) if count == 0]
    if empty:
        raise ValueError(f"ordered logit needs every CSAT level; no answer is {', '.join(map(str, empty))}")
    model = OrderedLogitModel(levels, design)
    fit = model.fit(method="bfgs", disp=False, maxiter=1000, cov_type="cluster",
                    cov_kwds={"groups": frame["_cluster"].to_numpy()})
    params, cov = np.asarray(fit.params), np.asarray(fit.cov_params())
    exog = np.asarray(model.exog, dtype=float)
    crit = critical_value(alpha)
    effects = []
    for name, label in [(SPEED, "per doubling of first response time"), *[(f, f"for a {f} case") for f in flags]]:
        column = list(design.columns).index(name)
        value, gradient = upper_share_effect(params, exog, model.k_levels, TOP_TWO - 1, column, flag=name != SPEED)
        se = float(np.sqrt(gradient @ cov @ gradient))
        effects.append(Estimate(
            f"top2_{'per_doubling' if name == SPEED else name}_ordered_logit",
            f"Change in P(CSAT 4 or 5) {label}, ordered logit", value, se, value - crit * se, value + crit * se,
            wald_p_value(value, se), int(fit.nobs),
            "ordered logit, average marginal effect on P(CSAT >= 4), delta method; SE clustered by customer_id; observational",
            1 - alpha, model="ordered logit: csat ~ " + " + ".join(design.columns), interval=WALD,
        ))
    return OrderedLogit(fit, effects, model.transform_threshold_params(params))


def ordered_logit_or_skipped(data: TicketData, alpha: float = 0.05) -> OrderedLogit | Skipped:
    """:func:`ordered_logit`, or Skipped with the reason when a CSAT level 1-5 has no answer."""
    rows = csat_sample(data)[0]
    empty = sorted(set(range(1, 6)) - set(rows["csat"].dropna().astype(int)))
    if empty and len(empty) < 5 and rows["csat"].nunique() > 1:
        return Skipped("ordered logit", f"no answer is {', '.join(map(str, empty))}: the ordered logit needs every CSAT level 1-5")
    return ordered_logit(data, alpha)


@dataclass
class DoseResponse:
    """How CSAT changes along the response-time axis, against a one-hour reply.

    Attributes
    ----------
    curve : pandas.DataFrame
        ``hours``, ``effect``, ``ci_low``, ``ci_high``: a natural-spline fit's predicted CSAT
        difference from a one-hour reply, others held fixed.
    bands : pandas.DataFrame
        Each response band's CSAT difference from the fastest band, with its interval.
    """

    curve: pd.DataFrame
    bands: pd.DataFrame | Skipped


def dose_response(data: TicketData, alpha: float = 0.05, df: int = 4, hours: np.ndarray | None = None) -> DoseResponse | Skipped:
    """Response time entered flexibly: a natural cubic spline in log2 hours, and response bands.

    Parameters
    ----------
    data : TicketData
    alpha : float
    df : int
        Degrees of freedom of the spline.
    hours : numpy.ndarray, optional
        Where to evaluate the curve; defaults to 10 minutes to 48 hours within the data's range.

    Returns
    -------
    DoseResponse or Skipped
        Skipped, with the reason, when the answered surveys cannot support the spline model; its
        ``bands`` is Skipped when every answer falls in one response band.
    """
    rows, _, flags, controls = csat_sample(data)
    distinct = int(rows[SPEED].nunique())
    reason = degenerate.first(
        csat_problem(rows, flags, controls, numeric=["spline"] * df),
        f"first response time takes only {distinct} values: a spline with {df} degrees of freedom needs more"
        if distinct < df + 2 else None,
    )
    if reason:
        return Skipped("dose-response", reason)
    crit = critical_value(alpha)
    spline_fit = fit_ols(rows, "csat", flags, controls, splines={SPEED: df})
    observed = rows[SPEED]
    if hours is None:
        low, high = max(np.log2(1 / 6), observed.quantile(0.005)), min(np.log2(48), observed.quantile(0.995))
        # The round values the findings quote (15 min, 1 h, 4 h, 24 h) are always on the grid when in range.
        hours = np.unique(np.concatenate([2 ** np.linspace(low, high, 40), [h for h in (0.25, 1.0, 4.0, 24.0) if low <= np.log2(h) <= high]]))
    grid = pd.DataFrame({SPEED: np.log2(hours)})
    reference = pd.DataFrame({SPEED: [0.0]})  # one hour
    spline_terms = [t for t in spline_fit.params.index if t.startswith("cr(")]
    design_info = spline_fit.model.data.model_spec  # patsy's DesignInfo of the fitted formula
    term = next(t for t in design_info.terms if t.name().startswith("cr("))
    # Evaluate only the spline's columns (the other terms cancel in a difference), with its fitted knots.
    subset = design_info.subset([term])
    basis = np.asarray(patsy.build_design_matrices([subset], grid)[0])
    base = np.asarray(patsy.build_design_matrices([subset], reference)[0])
    difference = basis - base
    beta = spline_fit.params[spline_terms].to_numpy()
    cov = spline_fit.cov_params().loc[spline_terms, spline_terms].to_numpy()
    effect = difference @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", difference, cov, difference))
    curve = pd.DataFrame({"hours": hours, "effect": effect, "ci_low": effect - crit * se, "ci_high": effect + crit * se})

    levels = list(rows["response_band"].cat.remove_unused_categories().cat.categories)
    band_problem = degenerate.first(
        f"every answered ticket is in one response band ({levels[0]}): nothing to compare" if len(levels) < 2 else None,
        csat_problem(rows, flags, controls, categorical=["response_band"]),
    )
    if band_problem:
        return DoseResponse(curve, Skipped("response bands", band_problem))
    band_fit = fit_ols(rows, "csat", flags, [*controls, "response_band"])
    bands = []
    for level in levels[1:]:
        term_name = f"C(response_band)[T.{level}]"
        low, high = band_fit.conf_int(alpha=alpha).loc[term_name]
        bands.append({"band": level, f"difference from {levels[0]}": band_fit.params[term_name],
                      "CI low": low, "CI high": high, "rows": int((rows["response_band"] == level).sum())})
    return DoseResponse(curve, pd.DataFrame(bands).set_index("band"))


def speed_by_resolution(data: TicketData, alpha: float = 0.05) -> list[Estimate] | Skipped:
    """Does a fast answer help when the problem is not solved? Speed slope by resolution outcome.

    One model with a speed x resolved interaction; returns the slope among unresolved cases, the
    slope among resolved cases, and their difference (the interaction).
    """
    rows, _, flags, controls = csat_sample(data)
    reason = csat_problem(rows, flags, controls, numeric=[f"{SPEED}:resolved"])
    if reason:
        return Skipped("speed by resolution", reason)
    if "resolved" not in flags:
        return Skipped("speed by resolution", "every answered case has the same resolution outcome")
    fit = fit_ols(rows, "csat", [SPEED, *flags], controls, interactions=[(SPEED, "resolved")])
    interaction = f"{SPEED}:resolved"
    method = "OLS with speed x resolved interaction; SE clustered by customer_id; observational"
    crit = critical_value(alpha)
    gradient = pd.Series(0.0, index=fit.params.index)
    gradient[[SPEED, interaction]] = 1.0
    resolved_slope = float(gradient @ fit.params)
    resolved_se = float(np.sqrt(gradient @ fit.cov_params() @ gradient))  # var(b1 + b3) with their covariance
    return [
        coefficient(fit, SPEED, "csat_per_doubling_unresolved", "CSAT points per doubling of the wait, unresolved cases", method, alpha),
        Estimate("csat_per_doubling_resolved", "CSAT points per doubling of the wait, resolved cases", resolved_slope,
                 resolved_se, float(resolved_slope - crit * resolved_se), float(resolved_slope + crit * resolved_se),
                 wald_p_value(resolved_slope, resolved_se), int(fit.nobs), method, 1 - alpha,
                 model=str(fit.model.formula), interval=WALD),
        coefficient(fit, interaction, "csat_speed_x_resolved", "Difference in the speed slope, resolved minus unresolved", method, alpha),
    ]


def standardized_effects(data: TicketData, fit=None) -> pd.DataFrame | Skipped:
    """Effect sizes of the adjusted model's numeric terms in comparable units.

    For each term: the coefficient (per unit), the term's SD among the rows used, the effect of a
    one-SD change, and the standardized coefficient (effect of one SD in SDs of CSAT). For speed,
    one unit is one doubling of the wait (e.g. from 1 to 2 hours).

    ``fit`` is the adjusted model's fit, or the :class:`study.regression.models.SatisfactionDrivers` (or the
    Skipped) that holds it; without it the model is fitted here (agents held fixed where the data
    has them, as in the default adjusted model).
    """
    if isinstance(fit, Skipped):
        return Skipped("standardized effects", fit.reason)
    fit = getattr(fit, "fits", {}).get("adjusted") if hasattr(fit, "fits") else fit
    rows, _, held = csat_rows(data)
    flags, controls = held.flags, held.controls
    if fit is None:
        reason = csat_problem(rows, flags, controls, categorical=held.fixed_effects)
        if reason:
            return Skipped("standardized effects", reason)
    fit = fit or fit_within(rows, "csat", [SPEED, *flags], controls, held.fixed_effects)[0]
    sd_csat = float(rows["csat"].astype(float).std())
    lines = []
    for term, unit in [(SPEED, "one doubling of the wait"), *[(f, f"{f} (yes vs no)") for f in flags if f in fit.params.index]]:
        sd = float(rows[term].astype(float).std())
        coefficient_value = float(fit.params[term])
        lines.append({"term": term_label(term), "unit": unit, "effect per unit": coefficient_value, "SD of term": sd,
                      "effect of one SD": coefficient_value * sd, "standardized coefficient": coefficient_value * sd / sd_csat})
    return pd.DataFrame(lines).set_index("term")


def inflation_factors(design: np.ndarray) -> np.ndarray:
    """Variance inflation factors of the non-constant columns of a design that has a constant.

    With a constant in the design, the VIF of column j (``1 / (1 - R²_j)`` of the regression of
    column j on all the others, which statsmodels' ``variance_inflation_factor`` fits once per
    column) is the j-th diagonal element of the inverse correlation matrix of the non-constant
    columns: one pass over the rows for all of them.

    Parameters
    ----------
    design : numpy.ndarray, (n, k)
        Design matrix including a constant column.

    Returns
    -------
    numpy.ndarray
        One VIF per non-constant column, in their order; for a column that the others explain
        exactly, a huge number (or ``inf``), as statsmodels gives.
    """
    varying = design[:, np.ptp(design, axis=0) > 0]
    centred = varying - varying.mean(axis=0)
    cross = centred.T @ centred
    scale = np.sqrt(np.diag(cross))
    correlation = cross / np.outer(scale, scale)
    try:
        return np.diag(np.linalg.inv(correlation)).copy()
    except np.linalg.LinAlgError:
        # Exact collinearity: statsmodels' one regression per column reports it as inf.
        return np.array([variance_inflation_factor(np.column_stack([np.ones(len(design)), varying]), i)
                         for i in range(1, varying.shape[1] + 1)])


def variance_inflation(data: TicketData) -> pd.DataFrame | Skipped:
    """Variance inflation factor of every term of the adjusted model (above 5-10 signals collinearity).

    See :func:`inflation_factors`. Skipped, with the reason, when the answered surveys cannot
    support the adjusted model (:func:`study.regression.models.csat_problem`).
    """
    rows, _, flags, controls = csat_sample(data)
    reason = csat_problem(rows, flags, controls)
    if reason:
        return Skipped("variance inflation factors", reason)
    frame = model_frame(rows, ["csat", SPEED, *flags, *controls], None)
    design = design_matrix(frame, formula("csat", [SPEED, *flags], controls).split("~", 1)[1])
    return pd.DataFrame(
        {"VIF": inflation_factors(design.to_numpy())},
        index=pd.Index([term_label(t) for t in design.columns[1:]], name="term"),
    )
