"""Regression helpers against statsmodels called directly, closed forms and the simulator's truth."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study import config
from study.data import simulate
from study.data.dataset import from_frame, load_tickets
from study.regression import fitting, models


def _direct_frame(tickets):
    frame = tickets[["csat", "response_log2_hours", "resolved", "reopened", "category", "channel", "loyalty_tier", "customer_id"]]
    frame = frame[frame["csat"].notna()].copy()
    for column in ("csat", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier"):
        frame[column] = frame[column].astype(str)
    return frame


def test_adjusted_ols_matches_statsmodels_called_directly(small_data):
    drivers = models.satisfaction_drivers(small_data)
    frame = _direct_frame(small_data.tickets)
    direct = smf.ols(
        "csat ~ response_log2_hours + resolved + reopened + C(category) + C(channel) + C(loyalty_tier)", frame
    ).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["customer_id"])[0]})
    ours = drivers.fits["adjusted"]
    np.testing.assert_allclose(ours.params.to_numpy(), direct.params.to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse.to_numpy(), rtol=0, atol=1e-10)
    estimate = drivers.get("csat_per_doubling_adjusted")
    assert estimate.value == pytest.approx(direct.params["response_log2_hours"], abs=1e-12)
    assert estimate.ci_low == pytest.approx(direct.conf_int().loc["response_log2_hours", 0], abs=1e-12)


def test_cluster_robust_se_matches_the_sandwich_formula():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(150), 4)
    x = rng.normal(size=groups.size) + rng.normal(size=150)[groups]
    y = 1 + 0.5 * x + rng.normal(size=150)[groups] + rng.normal(size=groups.size)
    tickets = pd.DataFrame({"csat": y, "response_log2_hours": x, "customer_id": groups.astype(str)})
    fit = fitting.fit_ols(tickets, "csat", ["response_log2_hours"], cluster="customer_id")

    design = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(design.T @ design)
    residual = y - design @ (bread @ design.T @ y)
    meat = sum(np.outer(s, s) for s in (design[groups == g].T @ residual[groups == g] for g in range(150)))
    n, k, g = groups.size, 2, 150
    sandwich = g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread  # CR1
    np.testing.assert_allclose(fit.bse.to_numpy(), np.sqrt(np.diag(sandwich)), rtol=1e-10)


def test_logit_marginal_effects_match_the_closed_form(small_data):
    repeat = models.repeat_purchase(small_data)
    fit = repeat.fits["direct"]
    p = fit.predict()
    for term, name in [("response_log2_hours", "repeat_per_doubling_direct"), ("csat", "repeat_per_csat_point")]:
        closed_form = np.mean(fit.params[term] * p * (1 - p))  # AME of a continuous term in a logit
        assert repeat.get(name).value == pytest.approx(closed_form, abs=1e-10)


def test_formula_refuses_names_outside_the_contract():
    with pytest.raises(ValueError, match="refusing"):
        fitting.formula("csat", ["__import__('os').system('true')"])


def test_scaled_coefficient_scales_value_and_interval(small_data):
    drivers = models.satisfaction_drivers(small_data)
    per_doubling, per_day = drivers.get("csat_per_doubling_adjusted"), drivers.get("csat_24h_vs_1h_adjusted")
    assert per_day.value == pytest.approx(per_doubling.value * np.log2(24))
    assert per_day.ci_low == pytest.approx(per_doubling.ci_low * np.log2(24))
    assert per_day.p_value == per_doubling.p_value


def test_naive_and_adjusted_use_the_same_rows(small_data):
    drivers = models.satisfaction_drivers(small_data)
    assert drivers.naive.n == drivers.get("csat_per_doubling_adjusted").n == drivers.ledger.rows_used
    assert drivers.ledger.rows_in == len(small_data.tickets)


def test_controls_absent_from_the_data_are_left_out(small_data):
    tickets = small_data.tickets.drop(columns=["channel", "loyalty_tier", "reopened"])
    data = type(small_data)(tickets, small_data.source)
    drivers = models.satisfaction_drivers(data)
    assert drivers.controls == ["category"]
    assert "reopened" not in drivers.fits["adjusted"].params


def test_embedded_sample_recovers_the_truth_and_shows_the_naive_bias():
    data = load_tickets(config.SAMPLE_DATA)
    truth = simulate.simulate(rows=40_000, seed=2026).truth
    drivers = models.satisfaction_drivers(data)
    true_slope = truth["csat_per_doubling_response_time"]
    assert drivers.get("csat_per_doubling_adjusted").covers(true_slope)
    assert drivers.get("csat_resolved_adjusted").covers(truth["csat_resolved"])
    assert not drivers.naive.covers(true_slope)
    assert drivers.naive.value < true_slope  # confounding makes speed look more harmful


def test_adjusted_interval_covers_the_true_slope_at_the_nominal_rate():
    """300 small simulations: the 95% CI of the adjusted slope covers the truth 95% of the time.

    Tolerance: three binomial standard errors of a 95% rate over 300 runs (±3.8 pp).
    """
    runs, covered = 300, 0
    for seed in range(runs):
        data = from_frame(simulate.simulate(rows=1_500, seed=10_000 + seed).tickets)
        covered += models.satisfaction_drivers(data).get("csat_per_doubling_adjusted").covers(
            simulate.CSAT_PER_DOUBLING
        )
    tolerance = 3 * np.sqrt(0.95 * 0.05 / runs)
    assert abs(covered / runs - 0.95) <= tolerance, covered / runs

