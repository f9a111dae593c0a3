"""Ordered logit with analytic derivatives, in statsmodels' ``OrderedModel`` parameterization.

statsmodels' ``OrderedModel`` has no analytic score or Hessian: fitting it by BFGS differentiates
the log-likelihood numerically (one pass over the data per parameter and step), and its standard
errors come from a numerical Hessian and a numerical per-ticket score. :class:`OrderedLogitModel`
is the same model with the exact first and second derivatives, so statsmodels' own optimizers
(BFGS, Newton) and sandwich (cluster-robust) covariance need a pass over the data per step.

Parameters are statsmodels': the coefficients ``beta`` of the k columns of ``exog`` (no
intercept: the cut points play its part), then the first cut point and the logs of the increments
between successive cut points, ``c_1 = t_1``, ``c_s = c_{s-1} + exp(t_s)``. A ticket at level m
(0-based, of J levels) has probability ``P = F(c_{m+1} - x'beta) - F(c_m - x'beta)`` with
``c_0 = -inf``, ``c_J = +inf`` and F the logistic distribution function; the log-likelihood
term is ``log(P + 1e-20)``, exactly as in statsmodels.

Derivatives, with ``u = c_{m+1} - x'beta``, ``l = c_m - x'beta`` and ``a_s = dc_s / dt`` (the
cut points' Jacobian row; zero for the infinite ends):

- score: ``d log P = s_u du - s_l dl`` with ``s = f / P``, ``du = (-x, a_{m+1})``,
  ``dl = (-x, a_m)``;
- Hessian: ``(h_u - s_u^2) du du' + s_u s_l (du dl' + dl du') - (h_l + s_l^2) dl dl'
  + s_u D_{m+1} - s_l D_m`` with ``h = f' / P`` and ``D_s = d^2 c_s / dt dt'`` (diagonal).

Because ``du`` and ``dl`` share the ``-x`` block and the cut-point blocks depend only on the
level, the Hessian costs one weighted ``X'X`` plus per-level sums.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from statsmodels.miscmodels.ordinal_model import OrderedModel

_TINY = 1e-20  # statsmodels adds this to every probability before the log; kept for the same optimum


def cut_points(params: np.ndarray, k_levels: int) -> np.ndarray:
    """Cut points ``(-inf, c_1, ..., c_{J-1}, +inf)`` from statsmodels' threshold parameters.

    Parameters
    ----------
    params : numpy.ndarray
        Full parameter vector (coefficients, then ``k_levels - 1`` threshold parameters).
    k_levels : int
        Number of outcome levels J.

    Returns
    -------
    numpy.ndarray, shape (J + 1,)
    """
    raw = params[-(k_levels - 1):]
    inner = np.concatenate((raw[:1], np.exp(raw[1:]))).cumsum()
    return np.concatenate(([-np.inf], inner, [np.inf]))


def cut_jacobian(params: np.ndarray, k_levels: int) -> np.ndarray:
    """Derivative of each cut point with respect to the threshold parameters.

    Returns
    -------
    numpy.ndarray, shape (J + 1, J - 1)
        Row s is ``d c_s / d t``; rows 0 and J (the infinite ends) are zero.
    """
    raw = params[-(k_levels - 1):]
    increments = np.concatenate(([1.0], np.exp(raw[1:])))
    jacobian = np.zeros((k_levels + 1, k_levels - 1))
    for s in range(1, k_levels):
        jacobian[s, :s] = increments[:s]
    return jacobian


def logistic_density(z: np.ndarray) -> np.ndarray:
    """Logistic density, written as F(z) F(-z) so that it keeps its precision in both tails."""
    return expit(z) * expit(-z)


def _pieces(params: np.ndarray, exog: np.ndarray, endog: np.ndarray, k_levels: int, second: bool = True) -> dict:
    """Per-ticket quantities the derivatives need: s_u, s_l (and, for the Hessian, h_u, h_l), and
    the cut-point Jacobian."""
    k = exog.shape[1]
    cuts = cut_points(params, k_levels)
    linear = exog @ params[:k]
    upper, lower = cuts[endog + 1] - linear, cuts[endog] - linear
    cdf_upper, cdf_lower = expit(upper), expit(lower)
    # max(., 0) as statsmodels' prob does; the tiny constant as in its log-likelihood.
    probability = np.maximum(cdf_upper - cdf_lower, 0) + _TINY
    pdf_upper, pdf_lower = cdf_upper * expit(-upper), cdf_lower * expit(-lower)
    out = {"s_u": pdf_upper / probability, "s_l": pdf_lower / probability, "jacobian": cut_jacobian(params, k_levels)}
    if second:
        # f'(z) = f(z) (1 - 2 F(z))
        out["h_u"] = pdf_upper * (1 - 2 * cdf_upper) / probability
        out["h_l"] = pdf_lower * (1 - 2 * cdf_lower) / probability
    return out


def score_obs(params: np.ndarray, exog: np.ndarray, endog: np.ndarray, k_levels: int) -> np.ndarray:
    """Per-ticket gradient of the log-likelihood, shape (n, k + J - 1).

    Parameters
    ----------
    params : numpy.ndarray
    exog : numpy.ndarray, (n, k)
    endog : numpy.ndarray of int, (n,)
        Level codes 0 .. J - 1.
    k_levels : int
    """
    p = _pieces(params, exog, endog, k_levels, second=False)
    jacobian = p["jacobian"]
    beta_part = -exog * (p["s_u"] - p["s_l"])[:, None]
    cut_part = jacobian[endog + 1] * p["s_u"][:, None] - jacobian[endog] * p["s_l"][:, None]
    return np.column_stack([beta_part, cut_part])


def score(params: np.ndarray, exog: np.ndarray, endog: np.ndarray, k_levels: int) -> np.ndarray:
    """Gradient of the log-likelihood, the column sums of :func:`score_obs` without forming it."""
    p = _pieces(params, exog, endog, k_levels, second=False)
    jacobian = p["jacobian"]
    levels = np.arange(k_levels)
    upper = np.bincount(endog, weights=p["s_u"], minlength=k_levels)
    lower = np.bincount(endog, weights=p["s_l"], minlength=k_levels)
    return np.concatenate([-(p["s_u"] - p["s_l"]) @ exog, upper @ jacobian[levels + 1] - lower @ jacobian[levels]])


def hessian(params: np.ndarray, exog: np.ndarray, endog: np.ndarray, k_levels: int) -> np.ndarray:
    """Hessian of the log-likelihood (summed over tickets), shape (k + J - 1, k + J - 1).

    See the module docstring for the formula; the ``x x'`` block is one weighted cross-product,
    the rest are per-level sums.
    """
    p = _pieces(params, exog, endog, k_levels)
    jacobian = p["jacobian"]
    upper_weight = p["h_u"] - p["s_u"] ** 2  # on du du'
    cross_weight = p["s_u"] * p["s_l"]  # on du dl' + dl du'
    lower_weight = -(p["h_l"] + p["s_l"] ** 2)  # on dl dl'
    beta_beta = exog.T @ (exog * (upper_weight + 2 * cross_weight + lower_weight)[:, None])

    levels = np.arange(k_levels)
    by_level = np.zeros((exog.shape[0], k_levels))
    rows = np.arange(exog.shape[0])
    by_level[rows, endog] = upper_weight + cross_weight
    toward_upper = exog.T @ by_level  # (k, J): sum over level-m tickets of x (alpha + gamma)
    by_level[rows, endog] = cross_weight + lower_weight
    toward_lower = exog.T @ by_level
    upper_rows, lower_rows = jacobian[levels + 1], jacobian[levels]
    beta_cut = -(toward_upper @ upper_rows + toward_lower @ lower_rows)

    def level_sum(weights: np.ndarray) -> np.ndarray:
        return np.bincount(endog, weights=weights, minlength=k_levels)

    alpha, gamma, epsilon = level_sum(upper_weight), level_sum(cross_weight), level_sum(lower_weight)
    cut_cut = (
        np.einsum("m,mi,mj->ij", alpha, upper_rows, upper_rows)
        + np.einsum("m,mi,mj->ij", gamma, upper_rows, lower_rows)
        + np.einsum("m,mi,mj->ij", gamma, lower_rows, upper_rows)
        + np.einsum("m,mi,mj->ij", epsilon, lower_rows, lower_rows)
    )
    # Second derivative of the cut points: d^2 c_s / d t_r^2 = exp(t_r) for 2 <= r <= s (0-based r >= 1).
    curvature = level_sum(p["s_u"]) @ upper_rows - level_sum(p["s_l"]) @ lower_rows
    curvature[0] = 0.0  # c_s is linear in the first threshold parameter
    cut_cut += np.diag(curvature)
    return np.block([[beta_beta, beta_cut], [beta_cut.T, cut_cut]])


class OrderedLogitModel(OrderedModel):
    """statsmodels' ``OrderedModel`` with ``distr="logit"`` and analytic derivatives.

    ``score``, ``score_obs`` and ``hessian`` are exact, so ``fit(method="newton")`` and the
    sandwich covariances (``cov_type="cluster"``, ``"HC0"``) no longer differentiate numerically.
    Everything else (likelihood, prediction, results class) is statsmodels'.

    Parameters
    ----------
    endog : array_like
        Ordered outcome (an ordered pandas Categorical keeps every category as a level).
    exog : array_like
        Covariates without a constant.
    """

    def __init__(self, endog: ArrayLike, exog: ArrayLike, **kwds):
        super().__init__(endog, exog, distr="logit", **kwds)
        self._codes = np.asarray(self.endog, dtype=np.intp)
        self._design = np.asarray(self.exog, dtype=float)

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """Per-observation gradient of the log-likelihood (analytic)."""
        return score_obs(np.asarray(params, dtype=float), self._design, self._codes, self.k_levels)

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the log-likelihood (analytic)."""
        return score(np.asarray(params, dtype=float), self._design, self._codes, self.k_levels)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Logistic distribution function: ``expit``, what ``scipy.stats.logistic.cdf`` returns, without its checks."""
        return expit(x)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian of the log-likelihood (analytic)."""
        return hessian(np.asarray(params, dtype=float), self._design, self._codes, self.k_levels)


def upper_share_effect(
    params: np.ndarray, exog: np.ndarray, k_levels: int, cut: int, column: int, flag: bool = False
) -> tuple[float, np.ndarray]:
    """Average marginal effect of one column on P(level >= cut), and its gradient in ``params``.

    ``P(level >= cut) = 1 - F(c_cut - x'beta)``. A continuous column gets the average derivative
    ``mean f(c_cut - x'beta) * beta_j``; a 0/1 flag the average change when every ticket's flag
    goes from 0 to 1. The gradient (exact) gives the delta-method variance ``g' V g``.

    Parameters
    ----------
    params : numpy.ndarray
        Coefficients, then statsmodels' threshold parameters.
    exog : numpy.ndarray, (n, k)
    k_levels : int
    cut : int
        Index of the cut point, 1 .. J - 1 (for five levels, 3 is the cut between the third and
        the fourth).
    column : int
        Column of ``exog``.
    flag : bool
        Whether the column is a 0/1 flag.

    Returns
    -------
    value : float
    gradient : numpy.ndarray, shape (len(params),)
    """
    k = exog.shape[1]
    beta = params[:k]
    threshold = cut_points(params, k_levels)[cut]
    cut_row = cut_jacobian(params, k_levels)[cut]
    gradient = np.empty(len(params))
    if flag:
        # Flag set to 1 and to 0 for every ticket, as the linear predictor moves.
        linear = exog @ beta - exog[:, column] * beta[column]
        z_on, z_off = threshold - linear - beta[column], threshold - linear
        value = float(np.mean(expit(z_off) - expit(z_on)))
        density_on, density_off = logistic_density(z_on), logistic_density(z_off)
        gradient[:k] = (density_on - density_off) @ exog / len(exog)
        # In those two designs the column is 1 and 0, not the observed values.
        gradient[column] = float(np.mean(density_on))
        gradient[k:] = float(np.mean(density_off - density_on)) * cut_row
        return value, gradient
    z = threshold - exog @ beta
    density = logistic_density(z)
    slope = density * (1 - 2 * expit(z))  # f'(z)
    mean_density = float(np.mean(density))
    gradient[:k] = -beta[column] * (slope @ exog) / len(exog)
    gradient[column] += mean_density
    gradient[k:] = beta[column] * float(np.mean(slope)) * cut_row
    return mean_density * float(beta[column]), gradient
