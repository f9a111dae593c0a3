"""The scenario model's companions: the naive slope, the SLA experiment's ratio and the sensitivity, against references."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

import study
from study.data.dataset import from_frame
from study.predict import analyse, randomized, scenario_words, scenarios
from study.stats import sensitivity as cinelli


@pytest.fixture(scope="module")
def sim():
    return study.simulate(rows=12000, seed=21)


@pytest.fixture(scope="module")
def data(sim):
    return from_frame(sim.tickets)


@pytest.fixture(scope="module")
def found(data):
    return scenarios.scenarios(data, 60, 0.05)


@pytest.fixture(scope="module")
def frame(data):
    t = data.tickets
    return t.assign(y=t["repeat_purchase"].astype(float), speed=np.log2(t["first_response_minutes"] / 60.0),
                    res=t["resolved"].astype(float), z=(t["variant"] == "treatment").astype(float),
                    g=t["customer_id"].factorize()[0])


def _clustered(formula, frame):
    return smf.ols(formula, frame).fit(cov_type="cluster", cov_kwds={"groups": frame["g"]})


def test_naive_slope_is_statsmodels_ols_of_repeat_on_speed_alone(found, frame):
    fit = _clustered("y ~ speed", frame)
    assert found.naive.value == pytest.approx(fit.params["speed"], rel=1e-9)
    assert found.naive.se == pytest.approx(fit.bse["speed"], rel=1e-9)
    for key, change in found.naive_changes.items():
        mean = found.shift[key]["mean"]
        assert change.value == pytest.approx(fit.params["speed"] * mean, rel=1e-9)
        assert change.se == pytest.approx(abs(mean) * fit.bse["speed"], rel=1e-9)
    table = found.table()
    assert table.loc[("every first response twice as fast", "naive (nothing held fixed)"), "change of the rate"] == \
        pytest.approx(-fit.params["speed"], rel=1e-9)


def test_randomized_ratio_is_two_stage_least_squares_with_a_delta_method_se(found, frame):
    controls = "C(category) + C(channel) + C(loyalty_tier)"
    # Two-stage least squares by hand: the second stage on the first stage's fitted speed.
    first = smf.ols(f"speed ~ z + {controls}", frame).fit()
    second = smf.ols(f"y ~ speed_hat + {controls}", frame.assign(speed_hat=first.fittedvalues)).fit()
    ratio = found.randomized.ratio
    assert ratio.value == pytest.approx(second.params["speed_hat"], rel=1e-8)
    # Delta method on the two reduced forms, their joint clustered covariance from one stacked regression.
    n = len(frame)
    stacked = pd.concat([frame.assign(out=frame["y"], eq="y"), frame.assign(out=frame["speed"], eq="x")])
    fit = smf.ols(f"out ~ 0 + C(eq) + C(eq):(z + {controls})", stacked).fit(
        cov_type="cluster", cov_kwds={"groups": stacked["g"]})
    gy, gx = fit.params["C(eq)[y]:z"], fit.params["C(eq)[x]:z"]
    cov = fit.cov_params()
    v = cov.loc["C(eq)[y]:z", "C(eq)[y]:z"] - 2 * ratio.value * cov.loc["C(eq)[y]:z", "C(eq)[x]:z"] \
        + ratio.value**2 * cov.loc["C(eq)[x]:z", "C(eq)[x]:z"]
    # The stacked fit's small-sample factor counts 2n rows and twice the terms: rescale it to one equation's.
    k = len(fit.params) // 2
    v *= ((n - 1) / (n - k)) / ((2 * n - 1) / (2 * n - 2 * k))
    assert gy / gx == pytest.approx(ratio.value, rel=1e-8)
    assert ratio.se == pytest.approx(math.sqrt(v) / abs(gx), rel=1e-6)
    assert found.randomized.first_stage.value == pytest.approx(first.params["z"], rel=1e-8)


def test_each_influence_gives_back_its_own_clustered_variance(found, data):
    r = found.randomized
    customers = data.tickets["customer_id"]
    assert randomized.joint_covariance(r.influence, r.influence, customers) == pytest.approx(r.ratio.se**2, rel=2e-3)
    # The difference's variance is the two variances less twice their covariance.
    d = found.difference
    assert d.se**2 == pytest.approx(found.slope.se**2 + r.ratio.se**2 - 2 * d.extra["covariance"], rel=1e-9)
    assert -1 < d.extra["correlation"] < 1


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_randomized_ratio_recovers_the_simulators_truth(seed):
    sim = study.simulate(rows=20000, seed=seed)
    found = scenarios.scenarios(from_frame(sim.tickets), 60, 0.05)
    true = sim.truth["sla_effect_on_repeat_purchase"] / sim.truth["sla_effect_on_log2_response_hours"]
    assert true == pytest.approx(sim.truth["repeat_total_per_doubling_response_time"], abs=1e-6)
    ratio = found.randomized.ratio
    # 3.5 SE: a correct estimator misses by more one time in 2,000 per check.
    assert abs(ratio.value - true) < 3.5 * ratio.se, (ratio.value, true, ratio.se)
    halved = found.randomized_changes["halved"]
    assert halved.value == pytest.approx(-ratio.value) and halved.se == pytest.approx(ratio.se)


def test_robustness_value_is_the_closed_form_of_the_classical_t(found, frame):
    fit = smf.ols("y ~ speed + res + C(category) + C(channel) + C(loyalty_tier)", frame).fit()
    t, dof = fit.tvalues["speed"], fit.df_resid
    f = abs(t) / math.sqrt(dof)
    closed = 0.5 * (math.sqrt(f**4 + 4 * f**2) - f**2)
    s = found.sensitivity.result
    assert s.robustness_value == pytest.approx(closed, rel=1e-9)
    # A confounder of exactly that strength with both takes the whole slope away.
    assert cinelli.bias(fit.bse["speed"], dof, closed, closed) == pytest.approx(abs(fit.params["speed"]), rel=1e-9)
    # RV at alpha: the strength whose adjusted interval (clustered SE) just reaches zero.
    ra = s.robustness_value_alpha
    low, high = cinelli.adjusted_interval(s.estimate, s.se, s.dof, ra, ra, 0.05, se_robust=s.se_robust)
    assert min(abs(low), abs(high)) == pytest.approx(0, abs=1e-9)


def test_benchmark_partial_r2_are_those_of_restricted_refits(found, frame):
    top = found.sensitivity.strongest
    terms = {"resolved": "res", "category": "C(category)", "channel": "C(channel)", "loyalty_tier": "C(loyalty_tier)"}
    others = " + ".join(v for k, v in terms.items() if k != top["benchmark"])
    full = smf.ols("speed ~ " + " + ".join(terms.values()), frame).fit()
    restricted = smf.ols(f"speed ~ {others}", frame).fit()
    assert top["r2dxj_x"] == pytest.approx((restricted.ssr - full.ssr) / restricted.ssr, rel=1e-8)
    full_y = smf.ols("y ~ speed + " + " + ".join(terms.values()), frame).fit()
    restricted_y = smf.ols(f"y ~ speed + {others}", frame).fit()
    assert top["r2yxj_dx"] == pytest.approx((restricted_y.ssr - full_y.ssr) / restricted_y.ssr, rel=1e-8)
    # The strongest moves the slope at least as far as any other benchmark.
    bounds = found.sensitivity.result.bounds
    assert abs(top["adjusted_estimate"] - found.slope.value) == pytest.approx(
        (bounds["adjusted_estimate"] - found.slope.value).abs().max())


def test_findings_put_naive_randomized_and_sensitivity_beside_the_adjusted(sim, data):
    result = analyse(data, bootstrap=50, seed=4)
    text = " ".join(f.text for f in result.findings(sim.truth))
    assert "A naive comparison, holding nothing fixed, would say" in text
    assert "The SLA experiment as a measuring stick" in text and "only through speed" in text
    assert "would have to explain" in text and "residual variance of both" in text
    table = result.speed_table()
    assert list(table.index) == ["adjusted (the scenario model)", "naive (nothing held fixed)",
                                 "randomized (SLA experiment)", "adjusted minus randomized"]
    assert "robustness value: erases the slope" in result.sensitivity_table().index


def _skipped_text(data) -> str:
    found = scenarios.scenarios(data, 60, 0.05)
    text = " ".join(f.text for f in scenario_words.comparison(found))
    assert "0.0 (0.0 to 0.0)" not in text and "+0.00 pp (95% CI +0.00" not in text
    assert list(scenario_words.speed_table(found).index) == ["adjusted (the scenario model)", "naive (nothing held fixed)"]
    assert {k for k, _, _ in found.kinds()} == {"adjusted (the scenario model)", "naive (nothing held fixed)"}
    return text


def test_no_experiment_is_skipped_with_its_reason(sim):
    text = _skipped_text(from_frame(sim.tickets.drop(columns="variant")))
    assert "Randomized estimate (SLA experiment): skipped.** The data has no variant column" in text


def test_one_arm_is_skipped_with_its_reason(sim):
    text = _skipped_text(from_frame(sim.tickets.assign(variant="control")))
    assert "per arm" in text and "control 7,444, treatment 0;" in text


def test_an_assignment_that_did_not_move_speed_is_skipped_as_too_weak(sim):
    tickets = sim.tickets.copy()
    coin = pd.Series(np.random.default_rng(3).random(tickets["customer_id"].nunique()) < 0.5,
                     index=tickets["customer_id"].unique())
    tickets["variant"] = np.where(tickets["customer_id"].map(coin), "treatment", "control")
    found = randomized.randomized_repeat(from_frame(tickets))
    assert "too little to read a ratio" in found.reason and "below 10" in found.reason
    # The F of a random coin is chi-squared with one degree of freedom: check it against the closed-form first stage.
    assert stats.chi2.sf(float(found.reason.split("F = ")[1].split(",")[0]), 1) > 1e-3
