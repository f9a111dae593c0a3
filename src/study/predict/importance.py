"""Permutation importance of the boosted model in a few large predictions instead of many small ones.

The drop in test AUC when one feature's column is shuffled, ``repeats`` times per feature: the numbers
of ``sklearn.inspection.permutation_importance(model, x, y, scoring="roc_auc", n_repeats=repeats,
random_state=seed)``, shuffles drawn the same way. scikit-learn predicts each shuffled copy on its
own; gradient-boosted trees pay a fixed cost per tree and call, which with 150 trees and 16 x 3 copies
is most of the time. Here the shuffled copies are stacked and predicted together, in chunks of at most
:data:`CHUNK_ROWS` rows (so memory stays bounded on large test sets).
"""

from __future__ import annotations

import numpy as np

from study.predict.metrics import weighted_auc

CHUNK_ROWS = 250_000


def _shuffled_columns(column: np.ndarray, repeats: int, seed: int) -> list[np.ndarray]:
    """The column after each of ``repeats`` successive shuffles, as scikit-learn draws them for one feature."""
    rng = np.random.RandomState(seed)
    order = np.arange(column.size)
    out = []
    for _ in range(repeats):
        rng.shuffle(order)
        column = column[order]
        out.append(column)
    return out


def permutation_auc_drop(model, x: np.ndarray, y: np.ndarray, repeats: int, seed: int) -> np.ndarray:
    """AUC lost when each feature is shuffled: an array of shape (features, repeats).

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    x : numpy.ndarray
        Test features, shape (n, features).
    y : numpy.ndarray
        0/1 outcome.
    repeats : int
        Shuffles per feature.
    seed : int
        As ``random_state`` of scikit-learn's ``permutation_importance``.
    """
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    baseline = weighted_auc(y, model.predict_proba(x)[:, 1])
    feature_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    copies = [(j, column) for j in range(k) for column in _shuffled_columns(x[:, j].copy(), repeats, feature_seed)]
    per_chunk = max(1, CHUNK_ROWS // max(n, 1))
    scores = []
    for start in range(0, len(copies), per_chunk):
        block = np.tile(x, (len(copies[start:start + per_chunk]), 1))
        for i, (j, column) in enumerate(copies[start:start + per_chunk]):
            block[i * n:(i + 1) * n, j] = column
        probability = model.predict_proba(block)[:, 1].reshape(-1, n)
        scores += [weighted_auc(y, p) for p in probability]
    return baseline - np.asarray(scores).reshape(k, repeats)
