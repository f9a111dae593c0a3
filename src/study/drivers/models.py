"""The naive and adjusted models of a driver analysis, and the check that suits the outcome.

The headline is always least squares, whatever the outcome: the slope of the outcome on the driver
(a 0/1 outcome: the linear probability model, in probability; a 1-5 score: points on the scale),
alone (naive) and with the controls held fixed (adjusted), on the same rows, with
heteroskedasticity-robust (HC1) or cluster-robust (CR1) standard errors. A linear slope is an
average over the data whatever the true shape, and it reads in the outcome's own unit. The check
refits the adjusted model in the form the outcome's kind calls for: a logit's average marginal
effect for a 0/1 outcome, an ordered logit's average change in the expected score for a 1-5 score.
When the check and the headline disagree, the linear form is the one to doubt.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from study.core import degenerate
from study.core.inference import (
    WALD,
    Interval,
    critical_value,
    wald_interval,
    wald_p_value,
)
from study.core.results import Estimate, Skipped
from study.drivers.rows import ModelRows
from study.regression.fitting import (
    average_marginal_effects,
    cluster_cov_kwds,
    coefficient,
    fit_logit,
    fit_ols,
    formula,
    inference_df,
    model_frame,
    term,
)
from study.stats.cluster import few_clusters_df, wild_cluster_bootstrap
from study.stats.design import design_matrix
from study.stats.ordinal import OrderedLogitModel, upper_share_effect

NAIVE, ADJUSTED = "driver_naive", "driver_adjusted"
LOGIT, ORDERED = "driver_logit_average_change", "driver_ordered_logit_expected_score"


def se_words(cluster: str | None) -> str:
    """'SE clustered by customer_id (CR1)' or 'heteroskedasticity-robust SE (HC1)'."""
    return f"SE clustered by {cluster} (CR1)" if cluster else "heteroskedasticity-robust SE (HC1)"


def per_words(m: ModelRows) -> str:
    """'per unit of delay_days' for a numeric driver, 'late 1 versus 0' for a 0/1 one."""
    return f"{m.driver} 1 versus 0" if m.driver_kind.kind == "binary" else f"per unit of {m.driver}"


def label(m: ModelRows, what: str) -> str:
    """'csat per unit of delay, naive (...)' or 'probability that b is 1, late 1 versus 0, naive (...)'."""
    return f"{outcome_words(m)}{',' if m.driver_kind.kind == 'binary' else ''} {per_words(m)}, {what}"


def outcome_words(m: ModelRows) -> str:
    """The outcome's unit: 'probability that csat_top is 1' for a 0/1 outcome, else its name."""
    return f"probability that {m.outcome} is 1" if m.outcome_kind.kind == "binary" else m.outcome


def headline(m: ModelRows, alpha: float) -> tuple[Estimate, Estimate, dict]:
    """Naive and adjusted least-squares slopes of the outcome on the driver, and their fits.

    Returns
    -------
    naive, adjusted : Estimate
    fits : dict
        ``{"naive": ..., "adjusted": ...}`` statsmodels results (CholeskyOLS).
    """
    se = se_words(m.cluster)
    naive_fit = fit_ols(m.rows, m.outcome, [m.driver], cluster=m.cluster)
    adjusted_fit = fit_ols(m.rows, m.outcome, [m.driver, *m.numeric], m.categorical, cluster=m.cluster)
    held = ", ".join(m.controls) or "nothing (no control given)"
    naive = coefficient(naive_fit, term(m.driver), NAIVE,
                        label(m, "naive (nothing held fixed)"),
                        f"OLS {naive_fit.model.formula}; {se}; observational", alpha)
    adjusted = coefficient(adjusted_fit, term(m.driver), ADJUSTED,
                           label(m, f"adjusted ({held} held fixed)"),
                           f"OLS {adjusted_fit.model.formula}; {se}; observational, adjusted", alpha)
    return naive, adjusted, {"naive": naive_fit, "adjusted": adjusted_fit}


def unidentified(m: ModelRows) -> str | None:
    """Why the driver's adjusted slope cannot be estimated: it does not vary once the controls are held fixed.

    The driver's residual sum of squares on the controls, from the cross-products ``[X, d]' [X, d]``
    (a k x k system, not a pass over the rows per check), against its sum of squares about the mean.
    """
    if not m.controls:
        return None
    frame = model_frame(m.rows, [m.driver, *m.controls], None)
    others = design_matrix(frame, formula(m.driver, m.numeric, m.categorical).split("~", 1)[1]).to_numpy()
    x = frame[m.driver].to_numpy()
    x = x - x.mean()  # the intercept is among the controls' columns: centring changes no residual, and keeps digits
    cross = others.T @ others
    projection = others.T @ x
    residual = float(x @ x - projection @ np.linalg.pinv(cross, hermitian=True) @ projection)
    if residual <= 1e-9 * float(x @ x):
        return (f"{m.driver} does not vary once {', '.join(m.controls)} {'is' if len(m.controls) == 1 else 'are'} held "
                "fixed (it is determined by them): its adjusted association cannot be estimated")
    return None


def collinear_note(fit) -> str | None:
    """A note when the adjusted design is rank deficient (controls that overlap), else ``None``.

    The rank is read from the eigenvalues of the column-scaled ``X'X`` (k x k), not an SVD of the rows.
    """
    exog = np.asarray(fit.model.exog, dtype=float)
    cross = exog.T @ exog
    scale = np.sqrt(np.clip(np.diag(cross), 1e-300, None))
    eigenvalues = np.linalg.eigvalsh(cross / np.outer(scale, scale))
    missing = int(np.sum(eigenvalues <= 1e-12 * eigenvalues.max()))
    if missing:
        return (f"the controls overlap ({missing} of their terms are determined by the others): their own coefficients "
                "are not identified; the driver's is")
    return None


def wild_bootstrap(m: ModelRows, fit, seed: int) -> dict | None:
    """With fewer than 50 clusters, the wild cluster bootstrap p-value of the adjusted slope (Rademacher, null imposed).

    Returns ``None`` with enough clusters or without clustering; ``{"p_value", "replicates", "enumerated",
    "clusters"}`` otherwise (``{"problem": ...}`` when the design is singular).
    """
    if not m.cluster:
        return None
    groups = fit.model.data.frame["_cluster"].to_numpy()
    if few_clusters_df(groups) is None:
        return None
    try:
        test = wild_cluster_bootstrap(np.asarray(fit.model.exog), np.asarray(fit.model.endog), groups,
                                      list(fit.model.exog_names).index(term(m.driver)), seed=seed)
    except np.linalg.LinAlgError:
        return {"problem": "the adjusted design is singular (overlapping controls)"}
    return {"p_value": test.p_value, "replicates": test.replicates, "enumerated": test.enumerated, "clusters": test.clusters}


def logit_check(m: ModelRows, alpha: float) -> tuple[Estimate | Skipped, object]:
    """A 0/1 outcome's adjusted logit: the driver's average marginal effect (a 0/1 driver: the average change from 0 to 1)."""
    section = "logit check"
    k = degenerate.parameters(m.rows, [m.driver, *m.numeric], m.categorical)
    values = m.rows[m.outcome]
    rarer = int(min((values == 1).sum(), (values == 0).sum()))
    if rarer < k + 2:
        return Skipped(section, f"only {rarer:,} rows have the rarer value of {m.outcome}: too few for a logit with {k} "
                                "coefficients"), None
    with warnings.catch_warnings():
        # Separation makes statsmodels warn at every step; degenerate.separated says it once, in words.
        warnings.simplefilter("ignore", (PerfectSeparationWarning, ConvergenceWarning))
        fit = fit_logit(m.rows, m.outcome, [m.driver, *m.numeric], m.categorical, m.cluster)
    problem = degenerate.separated(fit)
    if problem:
        return Skipped(section, "the logit separates the data (some group of rows all have the same outcome): its "
                                "average change is not estimable"), fit
    se = "robust (sandwich) SE" + (f" clustered by {m.cluster}" if m.cluster else "")
    (estimate,) = average_marginal_effects(
        fit, {term(m.driver): (LOGIT, (f"average change in the probability that {m.outcome} is 1 {per_words(m)}, logit, "
                                       "adjusted"))},
        f"logit average marginal effect, delta method; {se}; observational, adjusted", alpha)
    return estimate, fit


def ordered_check(m: ModelRows, alpha: float) -> tuple[Estimate | Skipped, object]:
    """A 1-5 score's adjusted ordered logit: the driver's average change in the expected score.

    With levels ``v_1 < ... < v_J`` the expected score is ``v_1 + sum_s (v_{s+1} - v_s) P(Y > v_s)``,
    so its average change is the sum of the average changes of each ``P(Y > v_s)``
    (:func:`study.stats.ordinal.upper_share_effect`, exact gradients), weighted by the gaps; the
    standard error is the delta method's with the fit's (clustered) covariance. It is in score points,
    like the least-squares headline.
    """
    section = "ordered logit check"
    levels = np.asarray(m.outcome_kind.levels, dtype=float)
    k = degenerate.parameters(m.rows, [m.driver, *m.numeric], m.categorical, intercept=False) + len(levels) - 1
    reason = degenerate.too_few_rows(m.rows, k, "rows")
    if reason:
        return Skipped(section, reason), None
    frame = model_frame(m.rows, [m.outcome, m.driver, *m.controls], m.cluster)
    design = design_matrix(frame, formula(m.outcome, [m.driver, *m.numeric], m.categorical).split("~", 1)[1])
    design = design.drop(columns="Intercept")  # the cut points play the intercept's part
    scores = pd.Categorical(frame[m.outcome].to_numpy(), categories=levels, ordered=True)
    model = OrderedLogitModel(scores, design)
    cov = cluster_cov_kwds(frame["_cluster"].to_numpy()) if m.cluster else {"cov_type": "HC0"}
    # Newton with the exact Hessian takes a handful of steps where BFGS takes hundreds (a control in the hundreds, a
    # price, stretches its steps); BFGS is the fallback should Newton not converge from statsmodels' start.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fit that does not converge is skipped with the reason
        fit = model.fit(method="newton", disp=False, maxiter=100, **cov)
        if not fit.mle_retvals.get("converged", False) or not np.all(np.isfinite(fit.params)):
            fit = model.fit(method="bfgs", disp=False, maxiter=2000, **cov)
    if not fit.mle_retvals.get("converged", False):
        return Skipped(section, "the ordered logit did not converge"), fit
    params, covariance = np.asarray(fit.params, dtype=float), np.asarray(fit.cov_params(), dtype=float)
    exog = np.asarray(model.exog, dtype=float)
    column = list(design.columns).index(term(m.driver))
    value, gradient = 0.0, np.zeros(len(params))
    for cut, gap in enumerate(np.diff(levels), start=1):
        share, share_gradient = upper_share_effect(params, exog, len(levels), cut, column,
                                                   flag=m.driver_kind.kind == "binary")
        value += gap * share
        gradient += gap * share_gradient
    se = float(np.sqrt(gradient @ covariance @ gradient))
    if not np.isfinite(se) or not np.isfinite(value):
        # A covariance that is not positive definite (a level seen in a handful of rows): no interval to give.
        return Skipped(section, "its standard error is not defined on these rows (too few rows at some score)"), fit
    df = inference_df(fit)
    low, high = wald_interval(value, se, alpha, df)
    words = "robust (sandwich) SE" + (f" clustered by {m.cluster}" if m.cluster else "")
    return Estimate(
        ORDERED, f"average change in the expected {m.outcome} {per_words(m)}, ordered logit, adjusted", value, se, low, high,
        wald_p_value(value, se, df), int(fit.nobs),
        f"ordered logit (logistic cut points), average change in the expected score, delta method; {words}; observational, "
        "adjusted", 1 - alpha,
        extra={"log_odds": float(params[column]), "odds_ratio": float(np.exp(params[column])),
               "levels": [float(v) for v in levels]},
        model=f"ordered logit: {m.outcome} ~ " + " + ".join(design.columns),
        interval=WALD if df is None else Interval(df=df),
    ), fit


def response_slope(m: ModelRows, alpha: float) -> Estimate | Skipped | None:
    """Among rows with the driver and every control, how answering (having an outcome) goes with the driver.

    ``None`` when every such row has an outcome. A linear probability model of answering on the driver
    and the controls, same standard errors as the headline.
    """
    unanswered = m.unanswered
    if unanswered is None or unanswered.empty:
        return None
    answered = "_answered"
    frame = pd.concat([m.rows.assign(**{answered: 1.0}), unanswered.assign(**{answered: 0.0})])
    reason = degenerate.first(
        degenerate.no_variation(frame, m.driver),
        degenerate.too_few_clusters(frame, m.cluster, purpose=f"standard errors clustered by {m.cluster}") if m.cluster else None,
        degenerate.too_few_rows(frame, degenerate.parameters(frame, [m.driver, *m.numeric], m.categorical)),
    )
    if reason:
        return Skipped("who has an outcome", reason)
    fit = fit_ols(frame, answered, [m.driver, *m.numeric], m.categorical, cluster=m.cluster)
    return coefficient(fit, term(m.driver), "driver_answer_probability",
                       f"probability of having a {m.outcome} {per_words(m)}, adjusted",
                       f"OLS (linear probability) of having an outcome; {se_words(m.cluster)}; observational", alpha)


def critical(alpha: float, fit) -> float:
    """The critical value of a fit's intervals (t(G - 1) with few clusters, else normal)."""
    return critical_value(alpha, inference_df(fit))
