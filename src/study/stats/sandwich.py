"""Cluster-robust (sandwich) covariance of least-squares coefficients, in closed form.

statsmodels' ``fit(cov_type="cluster")`` gives the same matrix, but through a full fit object and
a sort of the cluster labels; on ten million rows the closed form with :func:`numpy.bincount` is
many times faster and needs only the design, the residuals and integer cluster codes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def cluster_robust_cov(
    design: npt.ArrayLike, residual: npt.ArrayLike, codes: npt.ArrayLike
) -> np.ndarray:
    """CR1 cluster-robust covariance of OLS coefficients (Stata's and statsmodels' default).

    .. math::

        V = \\frac{G}{G-1} \\frac{N-1}{N-K} (X^\\top X)^{-1}
            \\Big(\\sum_g s_g s_g^\\top\\Big) (X^\\top X)^{-1},
        \\qquad s_g = \\sum_{i \\in g} x_i e_i

    with ``N`` rows, ``K`` columns of the design and ``G`` clusters that have rows.

    Parameters
    ----------
    design : array_like, shape (N, K)
        The regression's design matrix ``X`` (of full column rank).
    residual : array_like, shape (N,)
        Residuals ``e = y - X b`` of the least-squares fit.
    codes : array_like of int, shape (N,)
        Cluster of each row as a non-negative integer, e.g. the codes of
        :func:`pandas.factorize`. Codes need not be contiguous: ``G`` counts the codes in use.

    Returns
    -------
    numpy.ndarray, shape (K, K)
        The covariance matrix of the coefficients.

    Raises
    ------
    ValueError
        When the shapes disagree, a row has no cluster (a negative code, which is how
        :func:`pandas.factorize` marks a missing label), or there are fewer than two clusters.

    Examples
    --------
    >>> codes, _ = pd.factorize(frame["customer_id"])
    >>> X = np.column_stack([np.ones(len(y)), treated])
    >>> b = np.linalg.lstsq(X, y, rcond=None)[0]
    >>> cov = cluster_robust_cov(X, y - X @ b, codes)
    """
    design = np.asarray(design, dtype=float)
    residual = np.asarray(residual, dtype=float)
    codes = np.asarray(codes)
    if design.ndim != 2 or residual.shape != (design.shape[0],) or codes.shape != residual.shape:
        raise ValueError(
            f"design must be (N, K) with N residuals and N cluster codes; got design {design.shape}, "
            f"residual {residual.shape}, codes {codes.shape}"
        )
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"cluster codes must be integers (see pandas.factorize), got {codes.dtype}")
    n, k = design.shape
    if n and codes.min() < 0:
        raise ValueError(f"{int((codes < 0).sum())} rows have no cluster (negative code)")
    rows_per_cluster = np.bincount(codes)
    clusters = int(np.count_nonzero(rows_per_cluster))
    if clusters < 2:
        raise ValueError(f"need at least 2 clusters for a cluster-robust covariance, got {clusters}")
    # s_g for every cluster code: one bincount per column of the design.
    scores = np.column_stack(
        [np.bincount(codes, weights=design[:, j] * residual, minlength=rows_per_cluster.size) for j in range(k)]
    )
    meat = scores.T @ scores
    bread = np.linalg.inv(design.T @ design)
    correction = clusters / (clusters - 1) * (n - 1) / (n - k)
    return correction * (bread @ meat @ bread)
