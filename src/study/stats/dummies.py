"""Weighted cross-products of a design through the codes of its dummy columns.

A design with a dummy per agent, category, channel and tier has a few columns of numbers and dozens
of 0/1 columns, of which each row sets at most one per term. Newton's method forms its weighted
cross-product ``X' diag(v) X`` at every step (the Hessian of a logit or of a Cox model), a matrix
product costing ``n k^2`` for ``k`` columns. Read through the dummies' codes, the same matrix costs
``n (d + g)^2`` for ``d`` numeric columns and ``g`` groups of dummies: a weighted count per pair of
groups, a weighted sum per numeric column and group. The layout is read off the values themselves
(a column of zeros and ones, disjoint from the others of its group), so no formula has to say which
columns are dummies, and the entries are the same sums, added in another order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many dummy columns the matrix product is as quick as the counts.
MIN_DUMMIES = 8


@dataclass(frozen=True)
class Layout:
    """Where a design's numeric columns and its groups of mutually exclusive dummy columns are.

    Attributes
    ----------
    width : int
        Number of columns of the design.
    numeric : numpy.ndarray
        Positions of the columns that are not dummies of a group.
    numeric_values : numpy.ndarray, (n, len(numeric))
        Those columns, contiguous.
    groups : list of (numpy.ndarray, numpy.ndarray)
        Per group, the positions of its columns and each row's code: 0 for a row that sets none
        of them, ``j + 1`` for a row that sets the ``j``-th.
    """

    width: int
    numeric: np.ndarray
    numeric_values: np.ndarray
    groups: list[tuple[np.ndarray, np.ndarray]]


def layout(x: np.ndarray) -> Layout | None:
    """The numeric columns and groups of dummy columns of ``x``, or None when it has too few dummies.

    A dummy is a column of zeros and ones that is not all ones (a constant counts as numeric).
    Dummies are grouped in column order: a dummy joins the current group when no row sets both
    it and a column already in the group, and opens a new group otherwise.

    Parameters
    ----------
    x : numpy.ndarray, (n, k)

    Returns
    -------
    Layout or None
        None when ``x`` has fewer than :data:`MIN_DUMMIES` dummies or is not a finite 2-d array.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind != "f" or x.shape[0] == 0:
        return None
    ones = x == 1.0
    candidate = (ones | (x == 0.0)).all(axis=0) & ~ones.all(axis=0)
    if candidate.sum() < MIN_DUMMIES:
        return None
    rows, columns = np.nonzero(ones)  # row by row, each row's columns in order
    keep = candidate[columns]
    rows, columns = rows[keep], columns[keep]
    # The nearest earlier dummy that some row sets together with each dummy: the dummy joins the
    # current group unless that one is in it.
    same_row = rows[1:] == rows[:-1]
    nearest = np.full(x.shape[1], -1)
    np.maximum.at(nearest, columns[1:][same_row], columns[:-1][same_row])
    found: list[list[int]] = []
    for column in np.flatnonzero(candidate):
        if not found or nearest[column] >= found[-1][0]:
            found.append([])
        found[-1].append(column)
    # A dummy alone in its group (a yes/no flag) costs less as a column of numbers.
    found = [members for members in found if len(members) > 1]
    if sum(map(len, found)) < MIN_DUMMIES:
        return None
    group_of, position = np.full(x.shape[1], -1), np.zeros(x.shape[1], dtype=np.intp)
    groups = []
    for number, members in enumerate(found):
        group_of[members], position[members] = number, np.arange(1, len(members) + 1)
        codes = np.zeros(x.shape[0], dtype=np.intp)
        mine = group_of[columns] == number
        codes[rows[mine]] = position[columns[mine]]
        groups.append((np.array(members), codes))
    numeric = np.setdiff1d(np.arange(x.shape[1]), np.concatenate(found))
    return Layout(x.shape[1], numeric, np.ascontiguousarray(x[:, numeric]), groups)


def weighted_gram(x: np.ndarray, weights: np.ndarray, structure: Layout | None) -> np.ndarray:
    """``x.T @ (x * weights[:, None])``, through ``structure``'s codes when there is one.

    Parameters
    ----------
    x : numpy.ndarray, (n, k)
    weights : numpy.ndarray, (n,)
    structure : Layout or None
        :func:`layout` of ``x``; None forms the matrix product.

    Returns
    -------
    numpy.ndarray, (k, k)
    """
    if structure is None:
        return x.T @ (x * weights[:, None])
    out = np.zeros((structure.width, structure.width))
    numeric, values = structure.numeric, structure.numeric_values
    scaled = values * weights[:, None]
    out[np.ix_(numeric, numeric)] = values.T @ scaled
    for number, (columns, codes) in enumerate(structure.groups):
        size = len(columns) + 1
        out[columns, columns] = np.bincount(codes, weights=weights, minlength=size)[1:]
        for position, column in zip(numeric, scaled.T):
            sums = np.bincount(codes, weights=column, minlength=size)[1:]
            out[position, columns] = out[columns, position] = sums
        for other_columns, other_codes in structure.groups[:number]:
            other = len(other_columns) + 1
            counts = np.bincount(codes * other + other_codes, weights=weights, minlength=size * other)
            block = counts.reshape(size, other)[1:, 1:]
            out[np.ix_(columns, other_columns)] = block
            out[np.ix_(other_columns, columns)] = block.T
    return out


def run_sums(x: np.ndarray, weights: np.ndarray, starts: np.ndarray, structure: Layout | None) -> np.ndarray:
    """``np.add.reduceat(x * weights[:, None], starts, axis=0)``: weighted column sums over runs of rows.

    Parameters
    ----------
    x : numpy.ndarray, (n, k)
    weights : numpy.ndarray, (n,)
    starts : numpy.ndarray
        First row of each run, increasing, the first 0; a run ends where the next starts.
    structure : Layout or None
        :func:`layout` of ``x``; None forms the products of every column.

    Returns
    -------
    numpy.ndarray, (len(starts), k)
    """
    if structure is None:
        return np.add.reduceat(x * weights[:, None], starts, axis=0)
    runs = len(starts)
    out = np.zeros((runs, structure.width))
    out[:, structure.numeric] = np.add.reduceat(structure.numeric_values * weights[:, None], starts, axis=0)
    run = np.repeat(np.arange(runs), np.diff(np.append(starts, len(weights))))
    for columns, codes in structure.groups:
        size = len(columns) + 1
        counts = np.bincount(run * size + codes, weights=weights, minlength=runs * size)
        out[:, columns] = counts.reshape(runs, size)[:, 1:]
    return out


def group_sums(x: np.ndarray, weights: np.ndarray, group: np.ndarray, groups: int, structure: Layout | None) -> np.ndarray:
    """Per group of rows, the weighted column sums ``sum_{i in g} weights_i x_i``: ``(groups, k)``.

    Parameters
    ----------
    x : numpy.ndarray, (n, k)
    weights : numpy.ndarray, (n,)
    group : numpy.ndarray, (n,)
        Each row's group, 0 .. ``groups`` - 1.
    groups : int
    structure : Layout or None
        :func:`layout` of ``x``; None sums every column.
    """
    if structure is None:
        return np.column_stack([np.bincount(group, weights=weights * column, minlength=groups) for column in x.T])
    out = np.empty((groups, structure.width))
    for position, column in zip(structure.numeric, structure.numeric_values.T):
        out[:, position] = np.bincount(group, weights=weights * column, minlength=groups)
    for columns, codes in structure.groups:
        size = len(columns) + 1
        counts = np.bincount(group * size + codes, weights=weights, minlength=groups * size)
        out[:, columns] = counts.reshape(groups, size)[:, 1:]
    return out
