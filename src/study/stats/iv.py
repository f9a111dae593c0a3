"""Just-identified instrumental variables: the Wald estimate, its first stage and the Anderson–Rubin set.

One endogenous regressor ``x``, one instrument ``z`` and exogenous regressors ``W`` (with the
constant); every covariance is the CR1 cluster-robust sandwich of :mod:`study.stats.cluster`.

The Anderson–Rubin (AR) confidence set holds every ``b`` for which the instrument's coefficient in
the regression of ``y - b x`` on ``z`` and ``W`` is not significant: ``|t(b)| <= crit``. It keeps its
level however weak the instrument, which the Wald interval ``estimate ± crit × se`` does not. With
one instrument, ``t(b)^2 <= crit^2`` is a quadratic inequality in ``b``: write ``g_y, g_x`` for the
instrument's coefficients in the regressions of ``y`` and of ``x`` (reduced form and first stage) and
``V_yy, V_xy, V_xx`` for their cluster-robust (co)variances; the coefficient of ``y - b x`` is
``g_y - b g_x`` with variance ``V_yy - 2 b V_xy + b^2 V_xx``, so the set is where

.. math::

    (g_x^2 - c^2 V_{xx})\\, b^2 - 2 (g_x g_y - c^2 V_{xy})\\, b + (g_y^2 - c^2 V_{yy}) \\le 0 .

When the first stage is significant at the same level (``g_x^2 > c^2 V_xx``) the parabola opens
upward and the set is a bounded interval around the Wald estimate; otherwise it is the union of two
rays (the parabola opens downward and has real roots) or the whole line (no real roots).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from study.stats.cluster import cluster_sums, cr1_factor, sandwich_cov

INTERVAL, TWO_RAYS, WHOLE_LINE, RAY = "interval", "two rays", "whole line", "ray"


def iv_estimate(
    y: np.ndarray, endogenous: np.ndarray, instrument: np.ndarray, exogenous: np.ndarray, clusters: np.ndarray,
    forms: ReducedForms | None = None,
) -> tuple[float, float, float]:
    """Just-identified instrumental-variables estimate with a cluster-robust (CR1) standard error.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, shape (n,).
    endogenous : numpy.ndarray
        The regressor of interest, shape (n,).
    instrument : numpy.ndarray
        Its instrument, shape (n,).
    exogenous : numpy.ndarray
        Exogenous regressors including the constant, shape (n, k).
    clusters : numpy.ndarray
        Cluster codes (non-negative integers), shape (n,).
    forms : ReducedForms, optional
        :func:`reduced_forms` of the same arrays, when the caller has them (for the first-stage F).

    Returns
    -------
    estimate, se : float
        Coefficient of ``endogenous`` and its standard error.
    first_stage_f : float
        Cluster-robust Wald F of the instrument in the first stage (the square of its t statistic;
        with one instrument also the Montiel Olea–Pflueger effective F).
    """
    regressors = np.column_stack([endogenous, exogenous])
    instruments = np.column_stack([instrument, exogenous])
    zx_inverse = np.linalg.inv(instruments.T @ regressors)
    beta = zx_inverse @ instruments.T @ y
    residual = y - regressors @ beta
    cov = sandwich_cov(zx_inverse, instruments * residual[:, None], clusters)
    first = forms if forms is not None else reduced_forms(y, endogenous, instrument, exogenous, clusters)
    return float(beta[0]), float(np.sqrt(cov[0, 0])), first.first_stage_f


@dataclass(frozen=True)
class ReducedForms:
    """The instrument's coefficients in the regressions of ``y`` and of ``x`` on ``z`` and ``W``.

    Attributes
    ----------
    gamma_y, gamma_x : float
        Reduced-form and first-stage coefficients of the instrument.
    v_yy, v_xy, v_xx : float
        Their cluster-robust (CR1) variances and covariance.
    n, clusters : int
    """

    gamma_y: float
    gamma_x: float
    v_yy: float
    v_xy: float
    v_xx: float
    n: int
    clusters: int

    @property
    def first_stage_f(self) -> float:
        """Cluster-robust Wald F of the instrument in the first stage."""
        return self.gamma_x**2 / self.v_xx

    @property
    def wald(self) -> float:
        """The IV estimate ``gamma_y / gamma_x`` (the same number as :func:`iv_estimate`)."""
        return self.gamma_y / self.gamma_x

    def t(self, b: float) -> float:
        """t statistic of the instrument in the regression of ``y - b x`` on ``z`` and ``W``."""
        return (self.gamma_y - b * self.gamma_x) / math.sqrt(self.v_yy - 2 * b * self.v_xy + b * b * self.v_xx)


def reduced_forms(y: npt.ArrayLike, x: npt.ArrayLike, instrument: npt.ArrayLike, exogenous: npt.ArrayLike,
                  clusters: npt.ArrayLike) -> ReducedForms:
    """Regress ``y`` and ``x`` on the instrument and ``exogenous``; keep the instrument's coefficients.

    Parameters
    ----------
    y, x, instrument : array_like, shape (n,)
    exogenous : array_like, shape (n, k)
        Exogenous regressors including the constant.
    clusters : array_like of int, shape (n,)

    Returns
    -------
    ReducedForms
    """
    design = np.column_stack([instrument, exogenous]).astype(float)
    bread = np.linalg.inv(design.T @ design)
    outcomes = np.column_stack([y, x]).astype(float)
    coefficients = bread @ design.T @ outcomes
    residuals = outcomes - design @ coefficients
    row = bread[0]  # the instrument's row of (D'D)^-1: its coefficient's influence is row @ d_i e_i
    influence = (design @ row)[:, None] * residuals
    sums, groups = cluster_sums(influence, clusters)
    n, k = design.shape
    cov = cr1_factor(groups, n, k) * (sums.T @ sums)
    return ReducedForms(float(coefficients[0, 0]), float(coefficients[0, 1]), float(cov[0, 0]), float(cov[0, 1]),
                        float(cov[1, 1]), n, groups)


@dataclass(frozen=True)
class ConfidenceSet:
    """A confidence set on the real line: a bounded interval, two rays, one ray or the whole line.

    Attributes
    ----------
    kind : str
        ``"interval"`` ``[low, high]``; ``"two rays"`` ``(-inf, low] ∪ [high, inf)``; ``"ray"``
        ``(-inf, high]`` or ``[low, inf)`` (the other bound infinite); ``"whole line"``.
    low, high : float
        Bounds as above (``-inf`` / ``inf`` where the set is unbounded).
    level : float
        Confidence level.
    """

    kind: str
    low: float
    high: float
    level: float

    @property
    def bounded(self) -> bool:
        return self.kind == INTERVAL

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the set."""
        if self.kind == WHOLE_LINE:
            return True
        if self.kind == TWO_RAYS:
            return value <= self.low or value >= self.high
        return self.low <= value <= self.high

    def words(self, digits: int = 2) -> str:
        """The set in words, e.g. ``"-0.19 to -0.11"`` or ``"every value (the data rule nothing out)"``."""
        def f(v):
            return f"{v:+.{digits}f}"

        if self.kind == INTERVAL:
            return f"{f(self.low)} to {f(self.high)}"
        if self.kind == TWO_RAYS:
            return f"below {f(self.low)} or above {f(self.high)} (unbounded: the instrument is weak)"
        if self.kind == RAY:
            side = f"at least {f(self.low)}" if math.isinf(self.high) else f"at most {f(self.high)}"
            return f"{side} (unbounded: the instrument is weak)"
        return "every value (unbounded: the data rule nothing out; the instrument is weak)"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "low": self.low, "high": self.high, "level": self.level}


def anderson_rubin_set(forms: ReducedForms, crit: float, level: float) -> ConfidenceSet:
    """Anderson–Rubin confidence set of the just-identified IV coefficient, in closed form.

    Parameters
    ----------
    forms : ReducedForms
        From :func:`reduced_forms`.
    crit : float
        Critical value of ``|t|`` (e.g. :func:`study.core.inference.critical_value`).
    level : float
        Confidence level the critical value stands for.

    Returns
    -------
    ConfidenceSet
        The set of ``b`` with ``|t(b)| <= crit`` (see the module's docstring for the quadratic).
    """
    c2 = crit * crit
    a = forms.gamma_x**2 - c2 * forms.v_xx
    half_b = -(forms.gamma_x * forms.gamma_y - c2 * forms.v_xy)
    c = forms.gamma_y**2 - c2 * forms.v_yy
    if a == 0.0:  # a first stage exactly at the critical value: the inequality is linear
        if half_b == 0.0:  # then c <= 0 (Cauchy-Schwarz on the covariances): every b satisfies it
            return ConfidenceSet(WHOLE_LINE, -math.inf, math.inf, level)
        root = -c / (2 * half_b)
        return ConfidenceSet(RAY, -math.inf, root, level) if half_b > 0 else ConfidenceSet(RAY, root, math.inf, level)
    discriminant = half_b * half_b - a * c
    if discriminant < 0:
        if a < 0:  # no real root and opening downward: negative everywhere
            return ConfidenceSet(WHOLE_LINE, -math.inf, math.inf, level)
        discriminant = 0.0  # opening upward it is <= 0 at the Wald estimate, so D >= 0 up to rounding
    # Roots without cancellation: q = -(half_b + sign(half_b) sqrt(D)); roots q / a and c / q.
    q = -(half_b + math.copysign(math.sqrt(discriminant), half_b))
    roots = sorted([q / a, c / q] if q != 0 else [0.0, 0.0])
    if a > 0:
        return ConfidenceSet(INTERVAL, roots[0], roots[1], level)
    return ConfidenceSet(TWO_RAYS, roots[0], roots[1], level)
