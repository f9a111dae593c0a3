"""Cross-products through the dummies' codes against numpy's matrix products called directly."""

import numpy as np
import pytest

from study.stats import dummies


def _one_hot(codes: np.ndarray, levels: int, first: int = 1) -> np.ndarray:
    return (codes[:, None] == np.arange(first, levels)).astype(float)


def _designs(n: int = 4_000, seed: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    agent, category, channel = rng.integers(0, 25, n), rng.integers(0, 5, n), rng.integers(0, 3, n)
    numbers = np.column_stack([rng.normal(size=n), rng.exponential(900, n)])
    flag = (rng.random(n) < 0.3) * 1.0
    return {
        "intercept, numbers, three terms": np.column_stack(
            [np.ones(n), numbers, flag, _one_hot(category, 5), _one_hot(channel, 3), _one_hot(agent, 25)]),
        "dummies only, every level of one term": np.column_stack([_one_hot(category, 5, first=0), _one_hot(agent, 25)]),
        "numbers between the terms": np.column_stack(
            [_one_hot(agent, 25), numbers[:, :1], flag, _one_hot(category, 5), numbers[:, 1:]]),
    }


@pytest.mark.parametrize("name", list(_designs()))
def test_weighted_cross_product_and_run_sums_are_the_matrix_products(name):
    x = _designs()[name]
    structure = dummies.layout(x)
    assert structure is not None
    weights = np.random.default_rng(7).exponential(size=len(x))
    expected = x.T @ (x * weights[:, None])
    np.testing.assert_allclose(dummies.weighted_gram(x, weights, structure), expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())
    starts = np.r_[0, np.sort(np.random.default_rng(8).choice(np.arange(1, len(x)), 30, replace=False))]
    runs = np.add.reduceat(x * weights[:, None], starts, axis=0)
    np.testing.assert_allclose(dummies.run_sums(x, weights, starts, structure), runs, rtol=1e-12,
                               atol=1e-12 * np.abs(runs).max())


@pytest.mark.parametrize("name", list(_designs()))
def test_each_group_holds_dummies_no_row_sets_twice_and_every_column_is_placed_once(name):
    x = _designs()[name]
    structure = dummies.layout(x)
    placed = np.concatenate([structure.numeric, *(columns for columns, _ in structure.groups)])
    assert sorted(placed) == list(range(x.shape[1]))
    np.testing.assert_array_equal(structure.numeric_values, x[:, structure.numeric])
    for columns, codes in structure.groups:
        block = x[:, columns]
        assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(axis=1) <= 1).all()
        np.testing.assert_array_equal(codes, block @ np.arange(1, len(columns) + 1))
    assert sum(len(c) for c, _ in structure.groups) >= 24 + 4  # the agents' and the categories' dummies


def test_designs_without_enough_dummies_keep_the_matrix_product():
    rng = np.random.default_rng(3)
    few = np.column_stack([np.ones(500), rng.normal(size=500), _one_hot(rng.integers(0, 5, 500), 5)])
    assert dummies.layout(few) is None
    assert dummies.layout(_designs()["numbers between the terms"].astype(int)) is None
    assert dummies.layout(np.empty((0, 12))) is None
    weights = rng.random(500)
    np.testing.assert_array_equal(dummies.weighted_gram(few, weights, None), few.T @ (few * weights[:, None]))


@pytest.mark.parametrize("name", list(_designs()))
def test_group_sums_are_the_sums_of_the_weighted_rows(name):
    x = _designs()[name]
    rng = np.random.default_rng(9)
    weights, group = rng.normal(size=len(x)), rng.integers(0, 700, len(x))
    expected = np.zeros((701, x.shape[1]))
    np.add.at(expected, group, x * weights[:, None])
    for structure in (dummies.layout(x), None):
        np.testing.assert_allclose(dummies.group_sums(x, weights, group, 701, structure), expected, rtol=1e-12,
                                   atol=1e-12 * np.abs(expected).max())
