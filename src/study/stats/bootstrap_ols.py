"""Least squares on customer-bootstrap draws, from per-customer sums of cross-products.

A replicate that draws customers with replacement needs, for any least-squares fit, only the sums
of the products of its columns over the drawn rows: the per-customer sums are computed once, and a
replicate costs a matrix product rather than a pass over the tickets (:func:`study.stats.cluster.cluster_bootstrap`).
Two uses: the coefficients of several regressions on the same draws (:func:`cluster_bootstrap_ols`),
and the paths of a mediation with the correlation of its models' residuals (:func:`cluster_bootstrap_mediation`).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from study.stats.cluster import cluster_bootstrap


def cluster_bootstrap_ols(
    systems: list[tuple[np.ndarray, np.ndarray]], clusters: np.ndarray, replicates: int, seed: int
) -> list[np.ndarray]:
    """Least-squares coefficients of several regressions on the same customer bootstrap draws.

    Parameters
    ----------
    systems : list of (design, outcome)
        Design matrices (rows x k) and outcomes (rows), all on the same rows.
    clusters : numpy.ndarray
        Cluster code of each row, 0 .. G - 1 (codes from a sorted factorization make the draws
        independent of row order).
    replicates : int
    seed : int

    Returns
    -------
    list of numpy.ndarray
        Per system, a (replicates x k) array of coefficients; a replicate whose design is
        singular (a level drawn by no customer) gives NaN.
    """
    columns, pairs, products = _shared_products(systems)
    # Sum the cross-products within each customer once; a replicate then needs only counts @ sums.
    per_customer = _cluster_sums(columns, products, clusters)

    def coefficients(totals: np.ndarray) -> list[np.ndarray]:
        # x'x (replicates, k, k) and x'y gathered from the shared upper-triangle sums
        return [_solve_each(totals[:, index], totals[:, outcome_column]) for index, outcome_column in pairs]

    chunks = cluster_bootstrap(per_customer, replicates, seed, coefficients)
    return [np.vstack([chunk[j] for chunk in chunks]) for j in range(len(systems))]


def _shared_products(systems: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list, list]:
    """The distinct columns of all the designs and outcomes, and the products the systems need.

    The designs usually share most columns (the outcome model is the mediator model plus CSAT),
    and ``x'x`` is symmetric: each distinct product of two columns is summed once.

    Returns
    -------
    columns : numpy.ndarray, (rows, q)
        Distinct design columns, then each system's outcome.
    pairs : list of (numpy.ndarray, numpy.ndarray)
        Per system, the positions in ``products`` of its ``x'x`` (k x k) and of its ``x'y`` (k).
    products : list of (int, int)
        Pairs of positions in ``columns`` whose products are summed.
    """
    distinct, where = [], []
    for design, _ in systems:
        positions = []
        for column in design.T:
            match = next((i for i, seen in enumerate(distinct) if np.array_equal(seen, column)), None)
            if match is None:
                distinct.append(column)
                match = len(distinct) - 1
            positions.append(match)
        where.append(positions)
    columns = np.column_stack([*distinct, *(outcome for _, outcome in systems)])
    products, slot = [], {}

    def position(i: int, j: int) -> int:
        key = (min(i, j), max(i, j))
        if key not in slot:
            slot[key] = len(products)
            products.append(key)
        return slot[key]

    pairs = []
    for s, positions in enumerate(where):
        outcome = len(distinct) + s
        xtx = np.array([[position(i, j) for j in positions] for i in positions])
        pairs.append((xtx, np.array([position(i, outcome) for i in positions])))
    return columns, pairs, products


def _cluster_sums(columns: np.ndarray, products: list[tuple[int, int]], clusters: np.ndarray) -> np.ndarray:
    """Per-cluster sums of the column products, (G x len(products)), a block of products at a time."""
    order = np.argsort(clusters, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(clusters[order]) != 0])
    ordered = columns[order]
    out = np.empty((len(starts), len(products)))
    for begin in range(0, len(products), 32):  # bounds the rows x block temporary
        block = products[begin : begin + 32]
        left, right = (np.array(side) for side in zip(*block))
        out[:, begin : begin + len(block)] = np.add.reduceat(ordered[:, left] * ordered[:, right], starts, axis=0)
    return out


def _solve_each(xtx: np.ndarray, xty: np.ndarray) -> np.ndarray:
    """Solve a stack of normal equations; a singular one gives NaN instead of failing them all."""
    try:
        return np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        coefficients = np.full(xty.shape, np.nan)
        for r in range(len(xty)):
            try:
                coefficients[r] = np.linalg.solve(xtx[r], xty[r])
            except np.linalg.LinAlgError:
                pass
        return coefficients


def cluster_bootstrap_mediation(design: np.ndarray, mediator: np.ndarray, outcome: np.ndarray, column: int,
                                clusters: np.ndarray, replicates: int, seed: int,
                                groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Paths of two linear models, and the correlation of their residuals, on customer-bootstrap draws.

    With ``X = design``, ``m = mediator`` and ``y = outcome``, each replicate gives the coefficient
    of ``column`` in ``m ~ X`` (``a``), the coefficients of ``m`` (``b``) and of ``column``
    (``direct``) in ``y ~ X + m``, and the correlation of the residuals of ``m ~ X`` and ``y ~ X``
    (``rho``), all from the moments ``Z'Z`` of ``Z = [X, m, y]`` over the drawn rows: one pass of
    draws for everything, the same draws as :func:`cluster_bootstrap_ols` with the same
    ``clusters``, ``replicates`` and ``seed``.

    With ``groups`` (agents, codes 0 .. A - 1) every model also holds a fixed effect per group, and
    the group means are estimated again on each draw, exactly: the moments of the within
    transformation on a draw are ``Z'WZ - sum_g S_g S_g' / n_g`` (``W`` the customers' draw counts,
    ``S_g`` and ``n_g`` the weighted sum of ``Z`` and the weighted count over group ``g``'s rows),
    so each draw needs, besides ``Z'Z``, the per-group sums of ``[1, Z]``. Those are kept per
    customer as a sparse matrix (a customer's rows touch few groups), whose size grows with the
    rows times the width of ``Z``, not with its square times the groups, as dummies would. Pass
    ``design``, ``mediator`` and ``outcome`` already demeaned within groups (no intercept): the
    within transformation ignores a shift constant within each group, and demeaned columns keep
    the subtraction free of cancellation.

    Returns
    -------
    dict of numpy.ndarray
        ``a``, ``b``, ``direct`` and ``rho``, one value per replicate (NaN where a design is singular).
    """
    k = design.shape[1]
    columns = np.column_stack([design, mediator, outcome])
    upper = np.triu_indices(k + 2)
    per_customer = _cluster_sums(columns, list(zip(*upper)), clusters)

    def paths(totals: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
        moments = np.empty((len(totals), k + 2, k + 2))
        moments[:, upper[0], upper[1]] = totals
        moments[:, upper[1], upper[0]] = totals
        if within is not None:
            moments -= within
        xx, xy = moments[:, :k, :k], moments[:, :k, k:]
        on_design = np.stack([_solve_each(xx, xy[:, :, j]) for j in range(2)], axis=2)  # m ~ X and y ~ X
        residual = moments[:, k:, k:] - np.einsum("rki,rkj->rij", xy, on_design)
        rho = residual[:, 0, 1] / np.sqrt(residual[:, 0, 0] * residual[:, 1, 1])
        with_mediator = _solve_each(moments[:, : k + 1, : k + 1], moments[:, : k + 1, k + 1])
        return np.column_stack([on_design[:, column, 0], with_mediator[:, k], with_mediator[:, column], rho])

    if groups is None:
        draws = np.vstack(cluster_bootstrap(per_customer, replicates, seed, paths))
    else:
        per_group = _group_sums(columns, clusters, groups, per_customer.shape[0])
        chunks = []
        for counts in _draw_counts(per_customer.shape[0], replicates, seed):
            chunks.append(paths(counts @ per_customer, _between_groups(counts, per_group, k + 2)))
        draws = np.vstack(chunks)
    return dict(zip(("a", "b", "direct", "rho"), draws.T))


def _draw_counts(clusters: int, replicates: int, seed: int, chunk: int = 100):
    """The draw counts of :func:`study.stats.cluster.cluster_bootstrap`, chunk by chunk (the same draws for a seed)."""
    rng = np.random.default_rng(seed)
    for start in range(0, replicates, chunk):
        counts = np.empty((min(chunk, replicates - start), clusters))
        for r in range(len(counts)):
            counts[r] = np.bincount(rng.integers(0, clusters, clusters), minlength=clusters)
        yield counts


def _group_sums(columns: np.ndarray, clusters: np.ndarray, groups: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    """Per customer (rows) and group, the count and the sums of each column: (customers x groups * (1 + q)), sparse."""
    width = columns.shape[1] + 1
    values = np.column_stack([np.ones(len(columns)), columns])
    positions = (np.asarray(groups)[:, None] * width + np.arange(width)).ravel()
    n_groups = int(np.max(groups)) + 1
    # Duplicate (customer, position) entries are summed on conversion: the per-customer sums.
    return sparse.coo_matrix((values.ravel(), (np.repeat(clusters, width), positions)),
                             shape=(n_clusters, n_groups * width)).tocsr()


def _between_groups(counts: np.ndarray, per_group: sparse.csr_matrix, width: int) -> np.ndarray:
    """``sum_g S_g S_g' / n_g`` on each draw: the part of the moments the group fixed effects take."""
    totals = np.asarray((per_group.T @ counts.T).T).reshape(len(counts), -1, width + 1)
    n, sums = totals[:, :, 0], totals[:, :, 1:]
    # A group no drawn customer reaches has no mean to take out.
    scaled = np.divide(sums, n[:, :, None], out=np.zeros_like(sums), where=n[:, :, None] > 0)
    return np.einsum("rgi,rgj->rij", scaled, sums)
