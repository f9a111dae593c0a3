"""The rank of a design, answered from its Gram matrix when the design is plainly of full rank.

statsmodels counts the columns of a discrete model's design with a pivoted QR decomposition of the
whole n x k matrix (``tools.matrix_rank(method="qr")``), and :class:`study.stats.cox.BreslowPHReg`
with numpy's singular value decomposition (``np.linalg.matrix_rank``); with a dummy per agent on a
few hundred thousand tickets either costs more than the fit it precedes. Both only decide which
diagonal entries (or singular values) lie above a tolerance of about ``sigma_max * max(n, k) * eps``.

:func:`full_rank` certifies, from ``X'X`` (one cross-product), that the smallest singular value lies
far above both tolerances: with ``d`` the column norms and ``C = D^-1 X'X D^-1`` the correlation-
scaled Gram matrix, ``sigma_min(X) >= sqrt(lambda_min(C)) * min(d)`` and ``sigma_max(X) <=
sqrt(trace X'X)``. The smallest eigenvalue is reduced by a bound on the rounding error of forming and
decomposing ``C`` before it is used. Since every diagonal entry of a triangular factor lies between
its extreme singular values, a certified design has every pivot of the QR decomposition and every
singular value above the tolerances: the rank is ``k``, the answer statsmodels and numpy would give.
A design without the certificate (collinear, nearly so, or badly scaled) gets their own computation,
so the rank returned is theirs in every case.
"""

from __future__ import annotations

import numpy as np
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools import tools

from study.stats import dummies

_EPS = np.finfo(float).eps
# How far above the tolerance the certified smallest singular value must lie: a margin for the
# rounding of the QR decomposition or SVD the certificate stands in for.
_MARGIN = 1e3


def full_rank(exog: np.ndarray) -> bool:
    """Whether ``exog`` is certainly of full column rank by QR's and SVD's tolerances (module docstring).

    ``False`` means "not certified", not "rank deficient".

    Parameters
    ----------
    exog : numpy.ndarray, (n, k)

    Returns
    -------
    bool
    """
    x = np.asarray(exog, dtype=float)
    if x.ndim != 2 or x.shape[0] < x.shape[1] or x.shape[1] == 0 or not np.isfinite(x).all():
        return False
    n, k = x.shape
    gram = x.T @ x
    norms = np.sqrt(np.diag(gram))
    # Products below the normal range are rounded absolutely, not relatively: with every column's squared norm
    # above n * tiny / eps, that absolute error stays within the relative bound used below.
    if not (norms**2 > n * np.finfo(float).tiny / _EPS).all():
        return False
    scaled = gram / np.outer(norms, norms)
    # Rounding of the n-term inner products (relative to the column norms) and of the eigensolver.
    error = (n + 10 * k) * k * _EPS
    smallest = np.linalg.eigvalsh(scaled)[0] - error
    if smallest <= 0:
        return False
    sigma_min = np.sqrt(smallest) * norms.min()
    sigma_max = np.sqrt(norms @ norms)
    return bool(sigma_min > _MARGIN * sigma_max * max(n, k) * _EPS)


def qr_rank(exog: np.ndarray) -> int:
    """``statsmodels.tools.tools.matrix_rank(exog, method="qr")``, without the QR decomposition when certified."""
    return int(np.shape(exog)[1]) if full_rank(exog) else int(tools.matrix_rank(exog, method="qr"))


def svd_rank(exog: np.ndarray) -> int:
    """``numpy.linalg.matrix_rank(exog)``, without the singular value decomposition when certified."""
    return int(np.shape(exog)[1]) if full_rank(exog) else int(np.linalg.matrix_rank(exog))


class RankedLogit(Logit):
    """statsmodels' ``Logit`` whose rank check is answered by :func:`full_rank` first, and which keeps its last Hessian.

    The rank is the pivoted QR's (without the decomposition for a certified design). Newton's last
    step and the robust covariance both ask for the Hessian at the fitted parameters: the second
    gets the first's values (a copy: Newton's method adds its ridge in place). A design with dummy
    columns (a dummy per agent) has its Hessian summed through their codes
    (:func:`study.stats.dummies.weighted_gram`): the same sums as ``Logit.hessian``, in another order.
    """

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """``Logit.hessian``, computed once per parameter vector in a row."""
        params = np.asarray(params, dtype=float)
        kept = getattr(self, "_last_hessian", None)
        if kept is None or not np.array_equal(kept[0], params):
            kept = self._last_hessian = (params.copy(), self._hessian(params))
        return kept[1].copy()

    def _hessian(self, params: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_layout"):
            self._layout = dummies.layout(self.exog)
        if self._layout is None:
            return super().hessian(params)
        probability = self.cdf(self.exog @ params)
        return -dummies.weighted_gram(self.exog, probability * (1 - probability), self._layout)

    def initialize(self) -> None:
        """As ``DiscreteModel.initialize``; a certified full-rank design skips the QR decomposition."""
        if not (self._check_rank and full_rank(self.exog)):
            super().initialize()
            return
        rank = self.exog.shape[1]  # what the pivoted QR finds for a certified design
        self.df_model = float(rank - 1)
        self.df_resid = float(self.exog.shape[0] - rank)
