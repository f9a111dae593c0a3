"""Shapley decomposition of R² (general dominance) from covariance matrices, one or a stack of them."""

from __future__ import annotations

from math import factorial

import numpy as np
import pandas as pd
from scipy import sparse

# Singular values below this fraction of the largest count as zero: a bootstrap replicate in which
# an attribute happens to be constant then simply gets no R² from it.
RCOND = 1e-12


def subset_r_squared(covariance: np.ndarray) -> np.ndarray:
    """R² of the OLS of the outcome on every subset of the predictors, from their covariance.

    Parameters
    ----------
    covariance : numpy.ndarray, shape (..., k + 1, k + 1)
        Covariance (or correlation) matrices of the k predictors and, last, the outcome; leading
        dimensions are a stack (e.g. bootstrap replicates).

    Returns
    -------
    numpy.ndarray, shape (..., 2**k)
        Entry ``m`` is the R² of the model with the predictors whose bits are set in ``m``
        (bit j = predictor j); entry 0, the empty model, is 0.
    """
    k = covariance.shape[-1] - 1
    outcome_variance = covariance[..., k, k]
    out = np.zeros(covariance.shape[:-2] + (2**k,))
    for mask in range(1, 2**k):
        members = [j for j in range(k) if mask >> j & 1]
        block = covariance[..., members, :][..., :, members]
        with_outcome = covariance[..., members, k]
        inverse = np.linalg.pinv(block, rcond=RCOND, hermitian=True)
        explained = np.einsum("...i,...ij,...j->...", with_outcome, inverse, with_outcome)
        out[..., mask] = explained / outcome_variance
    return out


def shapley_matrix(k: int) -> np.ndarray:
    """Linear map from subset R² to Shapley shares: ``shares = subset_r2 @ shapley_matrix(k)``.

    Predictor j gets, for every subset S without it, weight |S|! (k - |S| - 1)! / k! times
    R²(S + j) - R²(S): the mean over subset sizes of the mean gain within a size.

    Returns
    -------
    numpy.ndarray, shape (2**k, k)
    """
    weights = np.zeros((2**k, k))
    for mask in range(2**k):
        size = bin(mask).count("1")
        for j in range(k):
            if not mask >> j & 1:
                w = factorial(size) * factorial(k - size - 1) / factorial(k)
                weights[mask | 1 << j, j] += w
                weights[mask, j] -= w
    return weights


def r_squared_shares(frame: pd.DataFrame, outcome: str, predictors: list[str]) -> pd.Series:
    """Shapley shares of the R² of ``outcome ~ predictors`` (OLS with intercept) on numeric rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Numeric columns without missing values.
    outcome : str
    predictors : list of str

    Returns
    -------
    pandas.Series
        One share per predictor, indexed by name; they sum to the full model's R².
    """
    values = frame[[*predictors, outcome]].to_numpy(dtype=float)
    covariance = np.cov(values, rowvar=False)
    return pd.Series(subset_r_squared(covariance) @ shapley_matrix(len(predictors)), index=predictors)


def cluster_moments(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-cluster count, sums and cross-products: the sufficient statistics of a covariance."""
    rows, width = values.shape
    per_row = np.column_stack(
        [np.ones(rows), values, (values[:, :, None] * values[:, None, :]).reshape(rows, width * width)]
    )
    membership = sparse.csr_matrix((np.ones(rows), (codes, np.arange(rows))), shape=(n_clusters, rows))
    return np.asarray(membership @ per_row)


def covariances(totals: np.ndarray, width: int) -> np.ndarray:
    """Covariance matrices (divisor n) from stacked totals of count, sums and cross-products."""
    count = totals[:, :1]
    mean = totals[:, 1 : 1 + width] / count
    cross = (totals[:, 1 + width :] / count).reshape(-1, width, width)
    return cross - mean[:, :, None] * mean[:, None, :]
