"""Adjusted p-values for many comparisons: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_array(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("p-values must be a flat sequence of numbers in [0, 1]")
    return p


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: controls the family-wise error rate under any dependence.

    The i-th smallest p-value is multiplied by ``m - i + 1`` (i from 1), made non-decreasing along
    the ordering, and capped at 1.

    Parameters
    ----------
    p_values : sequence of float

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.
    """
    p = _as_array(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values: controls the false discovery rate
    (independent or positively dependent tests).

    The i-th smallest p-value is multiplied by ``m / i``, made non-increasing from the largest
    down, and capped at 1.

    Parameters
    ----------
    p_values : sequence of float

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.
    """
    p = _as_array(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


ADJUSTMENTS = {"holm": holm, "benjamini_hochberg": benjamini_hochberg}
