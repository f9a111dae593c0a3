"""Ordinary least squares from the normal equations, with statsmodels' results.

statsmodels' ``OLS.fit()`` takes the pseudo-inverse of the design through a singular value
decomposition of the whole n x k matrix, on every fit; with agent fixed effects (k about 75) on a
million tickets that decomposition is most of the fit. :class:`CholeskyOLS` is ``OLS`` solving
the normal equations ``X'X b = X'y`` by a Cholesky factorization of the (column-scaled) ``X'X``
instead: one pass over the rows. Its results are statsmodels' ``OLSResults`` (same covariance
types, same clustered CR1 standard errors), equal to the pseudo-inverse solution to rounding
error whenever the design is well conditioned; otherwise it falls back to statsmodels' own fit.
The pseudo-inverse is still computed, once and only if something asks for it (the HC covariances
and influence measures do).
"""

from __future__ import annotations

import numpy as np
from statsmodels.regression.linear_model import OLS
from scipy import linalg
from statsmodels.regression.linear_model import OLSResults, RegressionResultsWrapper
from statsmodels.tools.tools import pinv_extended

# Largest condition number of the column-scaled X'X accepted: its rounding error stays below
# 1e-16 * 1e8 = 1e-8 relative, far inside what any reported figure shows.
_MAX_CONDITION = 1e8


class CholeskyOLS(OLS):
    """statsmodels' ``OLS`` fitted through the normal equations (see the module docstring)."""

    @property
    def pinv_wexog(self) -> np.ndarray:
        """Pseudo-inverse of the design, computed on first use."""
        if getattr(self, "_pinv_wexog", None) is None:
            self._pinv_wexog = pinv_extended(self.wexog)[0]
        return self._pinv_wexog

    @pinv_wexog.setter
    def pinv_wexog(self, value: np.ndarray) -> None:
        self._pinv_wexog = value

    def fit(self, method: str = "pinv", cov_type: str = "nonrobust", cov_kwds=None, use_t=None, **kwargs):
        """Least-squares fit; see ``statsmodels.regression.linear_model.OLS.fit``.

        ``method="pinv"`` (the default) is answered from the normal equations when ``X'X`` is
        well conditioned; anything else is statsmodels' own fit.
        """
        solved = self._normal_equations() if method == "pinv" and not kwargs else None
        if solved is None:
            return super().fit(method=method, cov_type=cov_type, cov_kwds=cov_kwds, use_t=use_t, **kwargs)
        beta, self.normalized_cov_params, self.wexog_singular_values = solved
        self.rank = self.wexog.shape[1]
        if self._df_model is None:
            self._df_model = float(self.rank - self.k_constant)
        if self._df_resid is None:
            self.df_resid = self.nobs - self.rank
        results = OLSResults(self, beta, normalized_cov_params=self.normalized_cov_params, cov_type=cov_type,
                             cov_kwds=cov_kwds, use_t=use_t)
        return RegressionResultsWrapper(results)

    def _normal_equations(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Coefficients, (X'X)^-1 and the design's singular values; None if X'X is ill conditioned."""
        return normal_equations(self.wexog, self.wendog)


def normal_equations(design: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Least squares by the Cholesky factorization of the column-scaled ``X'X``, when it is well conditioned.

    Parameters
    ----------
    design : numpy.ndarray, (n, k)
    outcome : numpy.ndarray, (n,)

    Returns
    -------
    tuple of numpy.ndarray or None
        The coefficients, ``(X'X)^-1`` and the design's singular values (largest first); None when a column is
        zero or the scaled ``X'X`` has a condition number above :data:`_MAX_CONDITION` (columns that are, or
        nearly are, combinations of the others).
    """
    design, outcome = np.asarray(design, dtype=float), np.asarray(outcome, dtype=float)
    cross = design.T @ design
    scale = np.sqrt(np.diag(cross))
    if not np.all(scale > 0):
        return None
    # Scaling the columns to unit length first keeps dummies and hours on one footing.
    scaled = cross / np.outer(scale, scale)
    eigenvalues = np.linalg.eigvalsh(scaled)
    if eigenvalues[0] <= 0 or eigenvalues[-1] / eigenvalues[0] > _MAX_CONDITION:
        return None
    factor = linalg.cho_factor(scaled)
    inverse = linalg.cho_solve(factor, np.eye(len(scale))) / np.outer(scale, scale)
    inverse = (inverse + inverse.T) / 2
    beta = linalg.cho_solve(factor, (design.T @ outcome) / scale) / scale
    singular_values = np.sqrt(np.clip(np.linalg.eigvalsh(cross), 0, None))[::-1]
    return beta, inverse, singular_values
