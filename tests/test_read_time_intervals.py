"""Intervals chosen when a result is read: an estimate remade at another level equals the analysis run at it."""

import math

import pytest
from scipy import stats

from study.core.inference import Interval
from study.core.results import Estimate
from study.data.overview import summarize
from study.regression import repeat, satisfaction


def _with_intervals(estimates):
    return {e.name: e for e in estimates if e.interval is not None and e.ci_low is not None and math.isfinite(e.ci_low)}


@pytest.fixture(scope="module")
def at_both_levels(small_data):
    runs = {}
    for alpha in (0.05, 0.1):
        estimates = list(summarize(small_data, alpha=alpha).estimates)
        estimates += satisfaction.study(small_data, alpha=alpha, bootstrap=60, seed=5).estimates
        estimates += repeat.study(small_data, alpha=alpha, replicates=60, seed=5).estimates
        runs[alpha] = _with_intervals(estimates)
    return runs


def test_every_interval_remade_at_ninety_percent_equals_the_analysis_run_at_ninety(at_both_levels):
    first, second = at_both_levels[0.05], at_both_levels[0.1]
    kinds = {e.interval.kind for e in first.values()}
    assert kinds == {"wald", "log_wald", "percentile"}, kinds
    assert len(first) >= 20 and set(first) == set(second)
    for name, estimate in first.items():
        remade = estimate.at(0.1)
        assert remade.ci_level == pytest.approx(0.9)
        assert (remade.ci_low, remade.ci_high) == pytest.approx((second[name].ci_low, second[name].ci_high), rel=1e-9, abs=1e-12), name
        assert estimate.conf_int() == (estimate.ci_low, estimate.ci_high) == estimate.conf_int(0.05)


def test_an_interval_that_cannot_be_remade_says_so_and_what_to_do():
    fixed = Estimate("x", "x", 0.1, 0.02, 0.05, 0.15, 0.01, 100, "continuity-corrected z")
    assert fixed.conf_int(0.05) == (0.05, 0.15)
    with pytest.raises(ValueError, match="rerun the analysis with alpha=0.1"):
        fixed.conf_int(0.1)
    wald = Estimate("y", "y", 1.0, 0.5, 0.02, 1.98, 0.05, 100, "wald", interval=Interval())
    half = 0.5 * stats.norm.ppf(0.84)  # the 68% interval: about one standard error either side
    assert wald.conf_int(0.32) == pytest.approx((1 - half, 1 + half), rel=1e-12)
    assert "interval" not in wald.to_dict() and wald == Estimate("y", "y", 1.0, 0.5, 0.02, 1.98, 0.05, 100, "wald")


def test_experiment_differences_remade_at_ninety_percent_equal_the_experiment_run_at_ninety(small_data, tmp_path):
    import numpy as np
    import pandas as pd

    from study import config
    from study.ab import experiment_engine, sla

    rng = np.random.default_rng(2)
    arm = np.array(["control", "a", "b"])[np.arange(3_000) % 3]
    pd.DataFrame({"id": np.arange(3_000), "arm": arm, "kept": rng.integers(0, 2, 3_000),
                  "spend": rng.gamma(2.0, 10.0, 3_000)}).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "m.yml").write_text("experiment: {unit: id, arm: arm, control: control, metrics: [kept, spend]}\n")
    tables = [(tmp_path / "t.csv", tmp_path / "m.yml"),  # plain: proportions and Welch
              (config.DATA / "examples" / "experiment.csv.gz", config.DATA / "examples" / "experiment_columns.yml")]  # CUPED
    runs = {}
    for alpha in (0.05, 0.1):
        estimates = list(sla.sla_experiment(small_data, alpha=alpha).estimates)  # ratios over customers
        for data, columns in tables:
            estimates += experiment_engine.from_files(data, columns, alpha=alpha).estimates
        runs[alpha] = _with_intervals(estimates)
    first, second = runs[0.05], runs[0.1]
    methods = {e.extra["method_code"] for e in first.values()}
    assert {"z_unpooled", "welch_t", "delta_ratio_welch_t", "cuped_ols_hc1_t"} <= methods, methods
    for name, estimate in first.items():
        assert (estimate.at(0.1).ci_low, estimate.at(0.1).ci_high) == pytest.approx(
            (second[name].ci_low, second[name].ci_high), rel=1e-9, abs=1e-12), name
