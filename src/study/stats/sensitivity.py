"""Sensitivity of an OLS coefficient to an omitted confounder (Cinelli & Hazlett 2020).

Cinelli, C. and Hazlett, C. (2020), "Making sense of sensitivity: extending omitted variable bias",
*Journal of the Royal Statistical Society B* 82(1), 39-67; the formulas and conventions of their R and
Python package ``sensemakr``.

A hidden confounder ``Z`` is described by two partial R²: ``r2dz_x``, the share of the treatment's
variance (after the controls ``X``) it explains, and ``r2yz_dx``, the share of the outcome's residual
variance (after the treatment and ``X``) it explains. In the sample, the coefficient with ``Z`` added
differs from the one without it by exactly

    |bias| = se * sqrt(dof) * sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x)),

where ``se`` and ``dof`` are the classical (homoskedastic) OLS standard error and residual degrees of
freedom of the model without ``Z``: ``se * sqrt(dof)`` is the ratio of the residual standard
deviations of outcome and treatment, so the formula is algebra, not an approximation. Everything
about the point estimate (partial R², robustness value ``RV_q``, bias-adjusted estimate, bounds) is
therefore computed from the classical ``t = estimate / se``, as ``sensemakr`` does.

Robust standard errors. The study's models cluster their standard errors by customer. What is
uncertain about the estimate uses that clustered SE: the adjusted SE is the clustered SE times the
factor by which adding ``Z`` changes the classical one, ``sqrt((1 - r2yz_dx) / (1 - r2dz_x)) *
sqrt(dof / (dof - 1))`` (the factor is exact for the classical SE and assumed to carry over to the
clustered one), and ``RV_{q,alpha}`` scales the critical value by ``se_robust / se``. With
``se_robust == se`` every number is ``sensemakr``'s. This differs from plugging the clustered t into
the classical formulas, which would also shrink the partial R² and ``RV_q``, quantities that do not
depend on the standard error at all.

Critical values follow ``sensemakr``: Student's t with ``dof - 1`` degrees of freedom in
``RV_{q,alpha}`` (the model with ``Z`` has one coefficient more; its ``robustness_value``), with ``dof``
in the adjusted intervals (its ``ovb_bounds``). With the study's hundreds of thousands of rows both
are the normal quantile to six digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core.inference import critical_value


def partial_r2(t: float, dof: float) -> float:
    """Partial R² of a regressor with the outcome, from its classical t statistic: ``t² / (t² + dof)``."""
    return float(t**2 / (t**2 + dof))


def group_partial_r2(f_statistic: float, terms: int, dof: float) -> float:
    """Partial R² of a group of ``terms`` regressors, from their classical Wald F statistic: ``F p / (F p + dof)``."""
    return float(f_statistic * terms / (f_statistic * terms + dof))


def robustness_value(t: float, dof: float, q: float = 1.0, alpha: float | None = None, se_ratio: float = 1.0) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,alpha}`` of a coefficient.

    The smallest strength a confounder needs, as an equal partial R² with treatment and outcome,
    to reduce the estimate by ``100 q`` percent (``RV_q``), or to make a ``1 - alpha`` interval include
    that reduced value (``RV_{q,alpha}``); Cinelli & Hazlett (2020), section 4.

    Parameters
    ----------
    t : float
        Classical OLS t statistic of the coefficient.
    dof : float
        Residual degrees of freedom of the model.
    q : float
        Share of the estimate to explain away (1: all of it).
    alpha : float, optional
        Significance level; ``None`` gives the point-estimate ``RV_q``.
    se_ratio : float
        Robust over classical standard error; scales the critical value (module docstring).

    Returns
    -------
    float
        In [0, 1]; 0 when the interval already includes the reduced value.
    """
    if dof <= 1 or q <= 0:
        raise ValueError(f"robustness value needs dof > 1 and q > 0, not dof={dof}, q={q}")
    fq = q * abs(t) / math.sqrt(dof)
    f_crit = 0.0 if alpha is None else se_ratio * critical_value(alpha, dof - 1) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if f_crit > 0 and fq > 1 / f_crit:
        # The confounder that needs least makes r2yz_dx smaller than r2dz_x: the diagonal is not binding.
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (math.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def bias(se: float, dof: float, r2dz_x, r2yz_dx) -> np.ndarray | float:
    """Absolute omitted-variable bias of a confounder of the given strengths (module docstring)."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, dtype=float), np.asarray(r2yz_dx, dtype=float)
    return se * np.sqrt(dof) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))


def adjusted_estimate(estimate: float, se: float, dof: float, r2dz_x, r2yz_dx, reduce: bool = True):
    """The estimate with the confounder's bias taken out: towards zero (``reduce``) or away from it.

    ``se`` is the classical OLS standard error (the bias does not depend on robust errors).
    """
    size = bias(se, dof, r2dz_x, r2yz_dx)
    return np.sign(estimate) * (abs(estimate) - size if reduce else abs(estimate) + size)


def adjusted_se(se: float, dof: float, r2dz_x, r2yz_dx):
    """Standard error of the coefficient with the confounder added (``se`` classical or robust; module docstring)."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, dtype=float), np.asarray(r2yz_dx, dtype=float)
    return se * np.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * np.sqrt(dof / (dof - 1))


def adjusted_t(estimate: float, se: float, dof: float, r2dz_x, r2yz_dx, reduce: bool = True, h0: float = 0.0,
               se_robust: float | None = None):
    """t statistic of the adjusted estimate against ``h0``, with the robust SE where given."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, reduce) - h0) / adjusted_se(
            se if se_robust is None else se_robust, dof, r2dz_x, r2yz_dx)


def adjusted_interval(estimate: float, se: float, dof: float, r2dz_x, r2yz_dx, alpha: float = 0.05, reduce: bool = True,
                      se_robust: float | None = None) -> tuple:
    """``1 - alpha`` interval of the adjusted estimate: ``adjusted ± t(dof) * adjusted SE`` (as ``sensemakr``)."""
    center = adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, reduce)
    half = critical_value(alpha, dof) * adjusted_se(se if se_robust is None else se_robust, dof, r2dz_x, r2yz_dx)
    return center - half, center + half


def benchmark_bounds(r2dxj_x: float, r2yxj_dx: float, kd: float = 1.0, ky: float | None = None) -> tuple | None:
    """Strength of a confounder ``kd`` (``ky``) times as strong as an observed covariate (group) ``X_j``.

    Cinelli & Hazlett (2020), section 6.1, as ``sensemakr``'s ``ovb_partial_r2_bound``: a confounder
    explaining ``kd`` times the treatment variance that ``X_j`` explains, and ``ky`` times the
    outcome variance, once both are net of the other controls.

    Parameters
    ----------
    r2dxj_x : float
        Partial R² of ``X_j`` with the treatment, given the other controls.
    r2yxj_dx : float
        Partial R² of ``X_j`` with the outcome, given the treatment and the other controls.
    kd, ky : float
        Multiples; ``ky`` defaults to ``kd``.

    Returns
    -------
    tuple of float or None
        ``(r2dz_x, r2yz_dx, clipped)``; ``r2yz_dx`` is capped at 1 (``clipped`` says so). ``None``
        when ``kd`` is impossible (the implied ``r2dz_x`` would reach 1).
    """
    ky = kd if ky is None else ky
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    if r2dz_x >= 1 or kd * r2dxj_x >= 1:
        return None
    r2zxj_xd = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2zxj_xd >= 1:
        return None
    r2yz_dx = ((math.sqrt(ky) + math.sqrt(r2zxj_xd)) / math.sqrt(1 - r2zxj_xd)) ** 2 * r2yxj_dx / (1 - r2yxj_dx)
    return float(r2dz_x), float(min(r2yz_dx, 1.0)), bool(r2yz_dx > 1)


# The same quantities from a fitted statsmodels OLS.

def _classical(fit) -> tuple[pd.Index, np.ndarray, np.ndarray, float, float]:
    names = pd.Index(fit.model.exog_names)
    inverse = np.asarray(fit.normalized_cov_params, dtype=float)  # (X'X)^-1, whatever the covariance type
    return names, np.asarray(fit.params, dtype=float), inverse, float(fit.scale), float(fit.df_resid)


def _wald_r2(coefficients: np.ndarray, covariance: np.ndarray, dof: float) -> float:
    statistic = float(coefficients @ np.linalg.solve(covariance, coefficients))  # = F * p
    return statistic / (statistic + dof)


def outcome_partial_r2(fit, terms: Sequence[str]) -> float:
    """Partial R² of ``terms`` (one or a group) with the outcome, from the classical covariance of ``fit``."""
    names, params, inverse, scale, dof = _classical(fit)
    at = names.get_indexer(list(terms))
    return _wald_r2(params[at], scale * inverse[np.ix_(at, at)], dof)


def treatment_partial_r2(fit, treatment: str, terms: Sequence[str]) -> float:
    """Partial R² of ``terms`` with the treatment, given the other regressors: the regression of the treatment on them.

    Read from ``(X'X)^-1`` of the outcome model without refitting: with ``M = (X'X)^-1`` and ``d`` the
    treatment's column, the treatment regression has coefficients ``-M[o, d] / M[d, d]`` and
    ``(X_o'X_o)^-1 = M[o, o] - M[o, d] M[d, o] / M[d, d]`` (partitioned inverse), with
    ``dof + 1`` residual degrees of freedom. The residual variance cancels from the partial R².
    """
    names, _, inverse, _, dof = _classical(fit)
    d = names.get_loc(treatment)
    at = names.get_indexer(list(terms))
    if d in at:
        raise ValueError(f"the treatment {treatment!r} cannot benchmark itself")
    gamma = -inverse[at, d] / inverse[d, d]
    block = inverse[np.ix_(at, at)] - np.outer(inverse[at, d], inverse[d, at]) / inverse[d, d]
    residual_variance = (1 / inverse[d, d]) / (dof + 1)
    return _wald_r2(gamma, residual_variance * block, dof + 1)


@dataclass(frozen=True)
class OLSSensitivity:
    """Cinelli-Hazlett sensitivity of one OLS coefficient (see :func:`ols_sensitivity`).

    Attributes
    ----------
    treatment : str
        The model term.
    estimate, se, se_robust : float
        Coefficient, classical SE and the model's own (robust) SE.
    dof : float
        Residual degrees of freedom.
    q, alpha : float
    partial_r2 : float
        Partial R² of the treatment with the outcome.
    robustness_value, robustness_value_alpha : float
        ``RV_q`` and ``RV_{q,alpha}`` (the latter with the robust SE).
    bounds : pandas.DataFrame
        One row per benchmark and multiple: ``benchmark``, ``terms``, ``kd``, ``ky``, ``label``,
        ``r2dxj_x``, ``r2yxj_dx``, ``r2dz_x``, ``r2yz_dx``, ``adjusted_estimate``, ``adjusted_se``,
        ``adjusted_t``, ``ci_low``, ``ci_high``, ``note`` (why a row is capped or impossible).
    reduce : bool
        Bias towards zero (the usual question: could confounding explain the estimate away?).
    """

    treatment: str
    estimate: float
    se: float
    se_robust: float
    dof: float
    q: float
    alpha: float
    partial_r2: float
    robustness_value: float
    robustness_value_alpha: float
    bounds: pd.DataFrame = field(compare=False)
    reduce: bool = True

    @property
    def t(self) -> float:
        """Classical t statistic."""
        return self.estimate / self.se

    def adjusted(self, r2dz_x, r2yz_dx) -> dict:
        """Adjusted estimate, SE (robust), t and interval for a confounder of the given strength."""
        se = self.se_robust
        low, high = adjusted_interval(self.estimate, self.se, self.dof, r2dz_x, r2yz_dx, self.alpha, self.reduce, se)
        return {"adjusted_estimate": adjusted_estimate(self.estimate, self.se, self.dof, r2dz_x, r2yz_dx, self.reduce),
                "adjusted_se": adjusted_se(se, self.dof, r2dz_x, r2yz_dx),
                "adjusted_t": adjusted_t(self.estimate, self.se, self.dof, r2dz_x, r2yz_dx, self.reduce, se_robust=se),
                "ci_low": low, "ci_high": high}

    def contour(self, limit: float | None = None, points: int = 101, statistic: str = "estimate") -> tuple:
        """Adjusted estimate (or robust t) over a grid of confounder strengths, for a contour plot.

        Parameters
        ----------
        limit : float, optional
            Largest partial R² on both axes; by default 0.4, or more so that every benchmark bound
            fits (as ``sensemakr``'s ``ovb_contour_plot``), at most 0.99.
        points : int
            Grid points per axis.
        statistic : {"estimate", "t"}

        Returns
        -------
        r2dz_x, r2yz_dx : numpy.ndarray
            Axis values.
        values : numpy.ndarray
            ``values[i, j]`` at ``r2yz_dx[i]``, ``r2dz_x[j]`` (matplotlib's ``contour(x, y, z)`` layout).
        """
        if limit is None:
            reach = self.bounds[["r2dz_x", "r2yz_dx"]].max().max() if len(self.bounds) else 0.0
            limit = min(0.99, max(0.4, 1.15 * float(np.nan_to_num(reach))))
        axis = np.linspace(0.0, limit, points)
        x, y = np.meshgrid(axis, axis)
        if statistic == "t":
            values = adjusted_t(self.estimate, self.se, self.dof, x, y, self.reduce, se_robust=self.se_robust)
        elif statistic == "estimate":
            values = adjusted_estimate(self.estimate, self.se, self.dof, x, y, self.reduce)
        else:
            raise ValueError(f"statistic must be 'estimate' or 't', not {statistic!r}")
        return axis, axis, values


def ols_sensitivity(fit, treatment: str, benchmarks: Mapping[str, Sequence[str]] | None = None,
                    kd: Sequence[float] = (1.0, 2.0, 3.0), ky: Sequence[float] | None = None, q: float = 1.0,
                    alpha: float = 0.05, reduce: bool = True) -> OLSSensitivity:
    """Robustness values and benchmark bounds of the coefficient ``treatment`` of a statsmodels OLS fit.

    Parameters
    ----------
    fit : statsmodels RegressionResults
        Any covariance type; the point quantities use its classical ``(X'X)^-1`` and residual
        variance, the intervals its own SE (module docstring).
    treatment : str
        Name of the coefficient.
    benchmarks : dict, optional
        ``{name: [terms]}``: observed covariates, one term or a group (every dummy of a categorical
        variable, benchmarked together as ``sensemakr``'s ``group_partial_r2``).
    kd, ky : sequence of float
        Multiples of each benchmark's strength with treatment and outcome (``ky`` defaults to ``kd``).
    q : float
        Share of the estimate to explain away.
    alpha : float
        Significance level of ``RV_{q,alpha}`` and the adjusted intervals.
    reduce : bool
        Whether the confounder pulls the estimate towards zero.
    """
    names, params, inverse, scale, dof = _classical(fit)
    d = names.get_loc(treatment)
    estimate, se = float(params[d]), math.sqrt(scale * inverse[d, d])
    se_robust = float(np.asarray(fit.bse)[d])
    t = estimate / se
    lines = []
    for name, terms in (benchmarks or {}).items():
        try:
            r2d, r2y = treatment_partial_r2(fit, treatment, terms), outcome_partial_r2(fit, terms)
        except np.linalg.LinAlgError:
            # Collinear dummies (a rank-deficient design) have no partial R² of their own.
            lines.append({"benchmark": name, "terms": len(terms), "note": f"{name} is collinear with the other terms"})
            continue
        for k_d, k_y in zip(kd, ky if ky is not None else kd):
            line = {"benchmark": name, "terms": len(terms), "kd": k_d, "ky": k_y,
                    "label": f"{k_d:g}x {name}" if k_d == k_y else f"{k_d:g}/{k_y:g}x {name}",
                    "r2dxj_x": r2d, "r2yxj_dx": r2y}
            bound = benchmark_bounds(r2d, r2y, k_d, k_y)
            if bound is None:
                lines.append({**line, "note": f"impossible: {k_d:g} times {name} would explain all of the treatment"})
                continue
            r2dz, r2yz, clipped = bound
            low, high = adjusted_interval(estimate, se, dof, r2dz, r2yz, alpha, reduce, se_robust)
            with np.errstate(divide="ignore", invalid="ignore"):
                line |= {"r2dz_x": r2dz, "r2yz_dx": r2yz,
                         "adjusted_estimate": float(adjusted_estimate(estimate, se, dof, r2dz, r2yz, reduce)),
                         "adjusted_se": float(adjusted_se(se_robust, dof, r2dz, r2yz)),
                         "adjusted_t": float(adjusted_t(estimate, se, dof, r2dz, r2yz, reduce, se_robust=se_robust)),
                         "ci_low": float(low), "ci_high": float(high),
                         "note": "r2yz_dx capped at 1" if clipped else ""}
            lines.append(line)
    columns = ["benchmark", "terms", "kd", "ky", "label", "r2dxj_x", "r2yxj_dx", "r2dz_x", "r2yz_dx", "adjusted_estimate",
               "adjusted_se", "adjusted_t", "ci_low", "ci_high", "note"]
    return OLSSensitivity(
        treatment, estimate, se, se_robust, dof, q, alpha, partial_r2(t, dof), robustness_value(t, dof, q),
        robustness_value(t, dof, q, alpha, se_robust / se), pd.DataFrame(lines, columns=columns), reduce,
    )
