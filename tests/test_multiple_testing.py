"""Holm's adjustment against statsmodels called directly."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from study.stats.multiple import benjamini_hochberg, holm


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 20])
def test_holm_gives_the_p_values_of_statsmodels(m):
    rng = np.random.default_rng(m)
    for _ in range(5):  # statsmodels takes about 80 ms a call here
        p = rng.beta(0.4, 1.0, m)
        if m > 2:  # ties, an exact zero and a one, as real p-values have
            p[1] = p[0]
            p[-1] = 1.0
            p[m // 2] = 0.0
        assert holm(list(p)) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)


def test_holm_keeps_the_input_order_and_never_lowers_a_p_value():
    p = [0.04, 0.001, 0.03, 0.2]
    adjusted = holm(p)
    assert adjusted == pytest.approx([0.09, 0.004, 0.09, 0.2])
    assert all(a >= raw for a, raw in zip(adjusted, p))


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 20])
def test_benjamini_hochberg_gives_the_p_values_of_statsmodels(m):
    rng = np.random.default_rng(100 + m)
    for _ in range(5):
        p = rng.beta(0.4, 1.0, m)
        if m > 2:
            p[1] = p[0]
            p[-1] = 1.0
            p[m // 2] = 0.0
        assert benjamini_hochberg(list(p)) == pytest.approx(list(multipletests(p, method="fdr_bh")[1]), abs=1e-15)


def test_benjamini_hochberg_keeps_the_input_order():
    assert benjamini_hochberg([0.04, 0.001, 0.03, 0.2]) == pytest.approx([0.04 * 4 / 3, 0.004, 0.04 * 4 / 3, 0.2])


def test_a_missing_p_value_is_passed_on_as_statsmodels_passes_it():
    for p in ([0.01, np.nan, 0.03], [np.nan, 0.5], [0.2, 0.01, np.nan, 0.04]):
        for ours, method in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
            np.testing.assert_array_equal(ours(p), multipletests(p, method=method)[1])
