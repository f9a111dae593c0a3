"""Discrimination, calibration and gains of the repeat-purchase model, each against an independent reference."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from study.predict import metrics


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(5)
    y = (rng.random(3000) < 0.4).astype(float)
    # Rounded scores: many ties, which the AUC must count half.
    score = np.round(rng.normal(size=3000) + 0.6 * y, 1)
    return y, score


def test_auc_matches_sklearn_with_ties(scored):
    y, score = scored
    assert metrics.weighted_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_weighted_auc_matches_sklearn_with_sample_weights(scored):
    y, score = scored
    w = np.random.default_rng(1).integers(0, 4, size=(3, len(y)))
    got = metrics.weighted_auc(y, score, w)
    for row, value in zip(w, got):
        assert value == pytest.approx(roc_auc_score(y, score, sample_weight=row), abs=1e-12)


def test_delong_se_matches_its_definition_computed_pair_by_pair():
    rng = np.random.default_rng(2)
    y = (rng.random(150) < 0.4).astype(float)
    score = np.round(rng.normal(size=150) + 0.8 * y, 1)
    pos, neg = score[y == 1], score[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    expected = np.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    assert metrics.delong_se(y, score) == pytest.approx(expected, rel=1e-12)


def test_delong_se_matches_the_spread_of_the_auc_over_repeated_samples():
    rng = np.random.default_rng(8)
    runs, n = 600, 400
    aucs, ses = [], []
    for _ in range(runs):
        y = (rng.random(n) < 0.4).astype(float)
        score = rng.normal(size=n) + 0.7 * y
        aucs.append(roc_auc_score(y, score))
        ses.append(metrics.delong_se(y, score))
    # The SD of 600 AUCs has a Monte-Carlo relative error of about 1/sqrt(2 * 600) = 2.9%: 3 MC SE is 8.7%.
    assert np.mean(ses) == pytest.approx(np.std(aucs, ddof=1), rel=3 / np.sqrt(2 * runs))


def test_customer_bootstrap_se_matches_delong_when_each_customer_has_one_ticket(scored):
    y, score = scored
    rng = np.random.default_rng(7)
    replicates = 2000
    found = metrics.discrimination(y, score, metrics.customer_weights(np.arange(len(y)), replicates, rng), 0.05)
    reference = metrics.delong_se(y, score)
    # The bootstrap SD's Monte-Carlo relative error is about 1/sqrt(2B) = 1.6%; 3 MC SE plus the O(1/n) gap.
    assert found.se == pytest.approx(reference, rel=3 / np.sqrt(2 * replicates) + 0.02)
    assert found.low < found.auc < found.high
    normal = stats.norm.ppf(0.975) * reference
    assert found.high - found.low == pytest.approx(2 * normal, rel=0.08)


def test_customer_weights_draw_whole_customers():
    customers = np.array(["a", "a", "b", "c", "c", "c"])
    w = metrics.customer_weights(customers, 500, np.random.default_rng(0))
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()
    # Each replicate draws as many customers as there are: the counts per customer sum to three.
    assert (w[:, [0, 2, 3]].sum(axis=1) == 3).all()


def test_replicates_in_blocks_are_the_replicates_drawn_at_once():
    """The analysis weighs the test tickets a block of replicates at a time (memory); every draw and every
    replicate's statistic must be the one all the replicates drawn at once would give, to the last bit."""
    rng = np.random.default_rng(11)
    customers = rng.integers(0, 4000, size=9000)
    y = (rng.random(9000) < 0.4).astype(float)
    score = np.round(rng.random(9000), 3)  # ties, as a model's probabilities have
    replicates = 1000

    draws = np.random.default_rng(3)  # the whole matrix as it was made before blocks
    codes, _ = pd.factorize(pd.Series(customers))
    count = int(codes.max()) + 1
    flat = draws.integers(0, count, size=(replicates, count)) + count * np.arange(replicates)[:, None]
    counts = np.bincount(flat.ravel(), minlength=replicates * count).reshape(replicates, count)
    whole = np.take(counts.astype(float), codes, axis=1)

    blocks = list(metrics.customer_weight_blocks(customers, replicates, np.random.default_rng(3)))
    assert len(blocks) == -(-replicates // metrics.BLOCK_REPLICATES)
    assert np.array_equal(np.vstack(blocks), whole)
    for statistic in (metrics.weighted_auc, metrics.brier, metrics.first_tenth_share):
        assert np.array_equal(np.concatenate([statistic(y, score, b) for b in blocks]), statistic(y, score, whole),
                              equal_nan=True), statistic.__name__


def test_brier_matches_sklearn(scored):
    y, score = scored
    p = 1 / (1 + np.exp(-score))
    assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_calibration_table_matches_sklearn_quantile_bins():
    rng = np.random.default_rng(3)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(float)
    table = metrics.calibration(y, p)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose(table["observed"], observed, atol=1e-12)
    np.testing.assert_allclose(table["predicted"], predicted, atol=1e-12)
    assert table["tickets"].sum() == 2000


def test_gains_count_non_returners_from_the_least_likely_up():
    rng = np.random.default_rng(4)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(float)
    table = metrics.gains(y, p)
    lowest = np.argsort(p)[:100]
    assert table.loc[1, "did not buy again"] == int((1 - y[lowest]).sum())
    assert table.loc[1, "share of non-returners"] == pytest.approx((1 - y[lowest]).sum() / (1 - y).sum())
    assert table["cumulative share"].iloc[-1] == pytest.approx(1.0) and table["lift"].iloc[-1] == pytest.approx(1.0)
    assert metrics.first_tenth_share(y, p) == pytest.approx(table.loc[1, "share of non-returners"])
    # Sorted by probability, the least likely tenth holds far more than 10% of the non-returners.
    assert table.loc[1, "share of non-returners"] > 0.15


def test_a_score_that_knows_nothing_has_auc_near_one_half_and_gains_near_the_diagonal():
    rng = np.random.default_rng(9)
    y = (rng.random(20000) < 0.4).astype(float)
    score = rng.random(20000)
    se = metrics.delong_se(y, score)
    assert abs(metrics.weighted_auc(y, score) - 0.5) < 4 * se
    assert abs(metrics.first_tenth_share(y, score) - 0.1) < 4 * np.sqrt(0.1 * 0.9 / (1 - y).sum())


def test_tenths_are_equal_sized(scored):
    _, score = scored
    counts = pd.Series(metrics.tenths(score)).value_counts()
    assert counts.max() - counts.min() <= 1 and sorted(counts.index) == list(range(1, 11))


def test_batched_permutation_importance_is_sklearns(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance

    from study.predict import importance

    rng = np.random.default_rng(8)
    x = rng.normal(size=(1000, 4))
    x[:, 3] = rng.integers(0, 3, 1000)
    y = (rng.random(1000) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 1])))).astype(float)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, y)
    reference = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=3, random_state=11)
    found = importance.permutation_auc_drop(model, x, y, 3, 11)  # the trees' own path (_TreeSum)
    np.testing.assert_allclose(found, reference.importances, atol=1e-12)
    # The path of other models, whole predictions stacked in chunks, some smaller than the whole stack:
    # the result must not depend on how the copies are grouped.
    monkeypatch.setattr(importance._TreeSum, "applies", staticmethod(lambda model, rows=0: False))
    for chunk in (importance.CHUNK_ROWS, 4000):
        monkeypatch.setattr(importance, "CHUNK_ROWS", chunk)
        stacked = importance.permutation_auc_drop(model, x, y, 3, 11)
        np.testing.assert_allclose(stacked, reference.importances, atol=1e-12)
    assert found[0].mean() > found[2].mean()  # the feature the outcome depends on matters, the noise one does not


def test_permutation_importance_of_trees_with_categories_is_the_whole_prediction_bit_for_bit(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance

    from study.predict import importance

    rng = np.random.default_rng(9)
    n = 1500
    x = rng.normal(size=(n, 5))
    x[:, 1] = rng.integers(0, 4, n)  # categorical, not first: scikit-learn moves it ahead of the numbers
    x[:, 3] = rng.integers(0, 3, n)
    x[rng.random(n) < 0.1, 4] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] + 0.4 * x[:, 1] - 0.3 * x[:, 3])))).astype(float)
    model = HistGradientBoostingClassifier(max_iter=12, max_leaf_nodes=4, random_state=0,
                                           categorical_features=[False, True, False, True, False]).fit(x, y)
    trees = importance._TreeSum(model, x)
    assert all(len(splits) < x.shape[1] for splits in trees.splits)  # so every copy reuses some trees' values
    np.testing.assert_array_equal(trees.probability(), model.predict_proba(x)[:, 1])
    for j in range(x.shape[1]):
        shuffled = x.copy()
        shuffled[:, j] = rng.permutation(x[:, j])
        np.testing.assert_array_equal(trees.probability(j, shuffled[:, j]), model.predict_proba(shuffled)[:, 1])
    found = importance.permutation_auc_drop(model, x, y, 3, 11)
    reference = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=3, random_state=11)
    np.testing.assert_allclose(found, reference.importances, atol=1e-12)
    monkeypatch.setattr(importance._TreeSum, "applies", staticmethod(lambda model, rows=0: False))
    whole = importance.permutation_auc_drop(model, x, y, 3, 11)  # every copy predicted by every tree
    np.testing.assert_array_equal(found, whole)
