"""Permutation importance of the boosted model without predicting the trees a shuffle cannot change.

The drop in test AUC when one feature's column is shuffled, ``repeats`` times per feature: the numbers
of ``sklearn.inspection.permutation_importance(model, x, y, scoring="roc_auc", n_repeats=repeats,
random_state=seed)``, shuffles drawn the same way. scikit-learn predicts each shuffled copy with every
tree; gradient-boosted trees cost a pass per tree over the rows, and with 75 trees and 16 x 3 copies
that is most of the analysis's time.

A tree with no split on the shuffled feature gives every ticket the value it gives the unshuffled test
set. For ``HistGradientBoostingClassifier`` (one tree per round, binary outcome) :class:`_TreeSum`
predicts each tree once on the test set and, for a shuffled copy, only the trees that split on the
shuffled feature; the raw score is then summed tree by tree in the model's own order, from its own
baseline, so the probabilities are the model's ``predict_proba``, bit for bit. Other models are
predicted whole, the shuffled copies stacked in chunks of at most :data:`CHUNK_ROWS` rows (memory
stays bounded on large test sets); so is a test set whose kept tree values would pass
:data:`TREE_VALUES_BYTES` (75 trees on 200,000 tickets keep 120 MB).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from study.predict.metrics import weighted_auc

CHUNK_ROWS = 250_000
# The most memory the trees' kept values may take (8 bytes a tree and a ticket); past it, the whole path.
TREE_VALUES_BYTES = 512 * 2**20


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


class _TreeSum:
    """A fitted binary ``HistGradientBoostingClassifier`` on one test set, each tree's prediction kept.

    Parameters
    ----------
    model : HistGradientBoostingClassifier
        Fitted, binary (one tree per round).
    x : numpy.ndarray
        Test features, shape (n, features).
    """

    def __init__(self, model: HistGradientBoostingClassifier, x: np.ndarray):
        self.model = model
        self.raw = x
        # What the trees read: scikit-learn may encode and reorder the columns (categorical ones first).
        self.x = model._preprocess_X(x, reset=False)
        self.bitsets, self.feature_map = model._bin_mapper.make_known_categories_bitsets()
        self.threads = _openmp_effective_n_threads()
        self.trees = [tree for round_ in model._predictors for tree in round_]
        self.values = [self._predict(tree, self.x) for tree in self.trees]
        # The (encoded) columns each tree splits on: those of its inner nodes.
        self.splits = [set(tree.nodes["feature_idx"][~tree.nodes["is_leaf"].astype(bool)].tolist())
                       for tree in self.trees]

    @staticmethod
    def applies(model, rows: int = 0) -> bool:
        """Whether ``model`` is a fitted binary ``HistGradientBoostingClassifier`` (one tree per round) whose
        trees' values on ``rows`` tickets fit in :data:`TREE_VALUES_BYTES`."""
        return (isinstance(model, HistGradientBoostingClassifier) and hasattr(model, "_predictors")
                and model.n_trees_per_iteration_ == 1 and 8 * rows * len(model._predictors) <= TREE_VALUES_BYTES)

    def _predict(self, tree, x: np.ndarray) -> np.ndarray:
        return tree.predict(x, self.bitsets, self.feature_map, self.threads)

    def probability(self, feature: int | None = None, column: np.ndarray | None = None) -> np.ndarray:
        """``predict_proba(x)[:, 1]``, or that of ``x`` with column ``feature`` replaced by ``column``.

        The raw score is built as ``_raw_predict`` builds it: the baseline, plus each tree's values in
        the model's order; a tree that splits on none of the columns the replacement changes (after
        the model's own encoding) adds its values on ``x``.
        """
        changed, moved = self.x, set()
        if feature is not None:
            shuffled = self.raw.copy()
            shuffled[:, feature] = column
            changed = self.model._preprocess_X(shuffled, reset=False)
            same = (changed == self.x) | (np.isnan(changed) & np.isnan(self.x))
            moved = set(np.flatnonzero(~same.all(axis=0)).tolist())  # the trees' columns that differ
        raw = np.zeros((self.x.shape[0], 1), dtype=self.model._baseline_prediction.dtype, order="F")
        raw += self.model._baseline_prediction
        for tree, values, splits in zip(self.trees, self.values, self.splits):
            raw[:, 0] += self._predict(tree, changed) if splits & moved else values
        return self.model._loss.predict_proba(raw)[:, 1]


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
    feature_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    copies = [(j, column) for j in range(k) for column in _shuffled_columns(x[:, j].copy(), repeats, feature_seed)]
    if _TreeSum.applies(model, n):
        trees = _TreeSum(model, x)
        baseline = weighted_auc(y, trees.probability())
        scores = [weighted_auc(y, trees.probability(j, column)) for j, column in copies]
        return baseline - np.asarray(scores).reshape(k, repeats)
    baseline = weighted_auc(y, model.predict_proba(x)[:, 1])
    per_chunk = max(1, CHUNK_ROWS // max(n, 1))
    scores = []
    for start in range(0, len(copies), per_chunk):
        block = np.tile(x, (len(copies[start:start + per_chunk]), 1))
        for i, (j, column) in enumerate(copies[start:start + per_chunk]):
            block[i * n:(i + 1) * n, j] = column
        probability = model.predict_proba(block)[:, 1].reshape(-1, n)
        scores += [weighted_auc(y, p) for p in probability]
    return baseline - np.asarray(scores).reshape(k, repeats)
