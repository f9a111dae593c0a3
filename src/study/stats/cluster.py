"""Inference for clustered rows: the CR1 sandwich covariance in closed form, and the cluster bootstrap.

statsmodels' ``fit(cov_type="cluster")`` gives the same matrix, but through a full fit object and
a sort of the cluster labels; on ten million rows the closed form with :func:`numpy.bincount` is
many times faster and needs only the design, the residuals and integer cluster codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")


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
    if design.ndim != 2 or residual.shape != (design.shape[0],):
        raise ValueError(
            f"design must be (N, K) with N residuals; got design {design.shape}, residual {residual.shape}"
        )
    return sandwich_cov(np.linalg.inv(design.T @ design), design * residual[:, None], codes)


def sandwich_cov(bread: npt.ArrayLike, scores: npt.ArrayLike, codes: npt.ArrayLike) -> np.ndarray:
    """CR1 sandwich ``c B (sum_g s_g s_g') B'`` for any estimating equation with per-row ``scores``.

    Least squares has ``B = (X'X)^-1`` and scores ``x_i e_i`` (:func:`cluster_robust_cov`); a
    just-identified instrumental-variables fit has ``B = (Z'X)^-1`` and scores ``z_i e_i``. The
    factor is ``c = G/(G-1) (N-1)/(N-K)`` (:func:`cr1_factor`).

    Parameters
    ----------
    bread : array_like, shape (K, K)
    scores : array_like, shape (N, K)
    codes : array_like of int, shape (N,)
        Cluster of each row (see :func:`cluster_sums`).

    Returns
    -------
    numpy.ndarray, shape (K, K)
    """
    bread = np.asarray(bread, dtype=float)
    scores = np.asarray(scores, dtype=float)
    summed, clusters = cluster_sums(scores, codes)
    n, k = scores.shape
    return cr1_factor(clusters, n, k) * (bread @ (summed.T @ summed) @ bread.T)


def cluster_sums(scores: npt.ArrayLike, codes: npt.ArrayLike) -> tuple[np.ndarray, int]:
    """Per-cluster sums of per-row scores, and the number of clusters that have rows.

    Parameters
    ----------
    scores : array_like, shape (N, K)
    codes : array_like of int, shape (N,)
        Cluster of each row as a non-negative integer, e.g. the codes of :func:`pandas.factorize`.
        Codes need not be contiguous.

    Returns
    -------
    sums : numpy.ndarray, shape (max code + 1, K)
        Row ``g`` sums the scores of cluster ``g`` (zero for an unused code).
    clusters : int

    Raises
    ------
    ValueError
        When the shapes disagree, a row has no cluster (a negative code, which is how
        :func:`pandas.factorize` marks a missing label), or there are fewer than two clusters.
    """
    scores = np.asarray(scores, dtype=float)
    codes = np.asarray(codes)
    if scores.ndim != 2 or codes.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (N, K) with N cluster codes; got scores {scores.shape}, codes {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"cluster codes must be integers (see pandas.factorize), got {codes.dtype}")
    if codes.size and codes.min() < 0:
        raise ValueError(f"{int((codes < 0).sum())} rows have no cluster (negative code)")
    rows_per_cluster = np.bincount(codes)
    clusters = int(np.count_nonzero(rows_per_cluster))
    if clusters < 2:
        raise ValueError(f"need at least 2 clusters for a cluster-robust covariance, got {clusters}")
    sums = np.column_stack([np.bincount(codes, weights=scores[:, j], minlength=rows_per_cluster.size)
                            for j in range(scores.shape[1])])
    return sums, clusters


def cr1_factor(clusters: int, rows: int, parameters: int) -> float:
    """Stata's and statsmodels' small-sample factor of a clustered covariance: G/(G-1) (N-1)/(N-K)."""
    return clusters / (clusters - 1) * (rows - 1) / (rows - parameters)


def cluster_bootstrap(per_cluster: npt.ArrayLike, replicates: int, seed: int,
                      statistic: Callable[[np.ndarray], T], chunk: int = 100) -> list[T]:
    """A statistic of bootstrap replicates that draw whole clusters (customers) with replacement.

    A replicate's totals are ``counts @ per_cluster``, where ``counts`` says how often each cluster
    was drawn: any statistic computed from sums over rows (cross-products for least squares,
    moments for a covariance) is evaluated without touching the rows again. Clusters are drawn with
    ``numpy.random.default_rng(seed)``, so the same sums, seed and ``replicates`` give the same
    replicates; draws are made ``chunk`` replicates at a time, bounding memory at about
    ``chunk x clusters`` numbers.

    Parameters
    ----------
    per_cluster : array_like, shape (G, Q)
        Sums over each cluster's rows (clusters in a fixed order, e.g. sorted ids).
    replicates : int
    seed : int
    statistic : callable
        Maps a (replicates in the chunk, Q) array of totals to the chunk's results.
    chunk : int

    Returns
    -------
    list
        ``statistic``'s result for each chunk, in order (stack them with :func:`numpy.vstack`).
    """
    per_cluster = np.asarray(per_cluster, dtype=float)
    clusters = per_cluster.shape[0]
    rng = np.random.default_rng(seed)
    results = []
    for start in range(0, replicates, chunk):
        counts = np.empty((min(chunk, replicates - start), clusters))  # filled in place: no int copy to cast
        for r in range(len(counts)):
            counts[r] = np.bincount(rng.integers(0, clusters, clusters), minlength=clusters)
        results.append(statistic(counts @ per_cluster))
    return results
