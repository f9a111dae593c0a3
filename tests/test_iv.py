"""The randomized estimate of speed: IV against linearmodels and statsmodels, the Anderson–Rubin set against a
grid inversion with statsmodels, the SLA's effects on other channels against statsmodels, and a planted
violation of the exclusion restriction that the checks must catch."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize
from statsmodels.sandbox.regression.gmm import IV2SLS
from statsmodels.stats.multitest import multipletests

from study.core.inference import critical_value
from study.core.results import Estimate, Skipped
from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.data.experiment import experiment_rows
from study.regression import causal, iv_checks, iv_findings, models
from study.stats import iv

CRIT = critical_value(0.05)


def _hashed_uniforms(stream: int, n: int) -> np.ndarray:
    """Deterministic uniforms from a sine hash: the same numbers on every numpy, so reference values can be embedded."""
    v = np.sin((np.arange(n) + 1) * 12.9898 + stream * 78.233) * 43758.5453
    return v - np.floor(v)


def _reference_data(n: int = 400):
    u1, u2, u3, u4, u5 = (_hashed_uniforms(s, n) for s in range(1, 6))
    clusters = np.arange(n) // 3
    z = (u1 < 0.5).astype(float)
    w = u2 * 2 - 1
    common = u5 - 0.5
    x = 1 - 0.8 * z + 0.5 * w + (u3 - 0.5) * 2 + common
    y = 3 - 0.15 * x + 0.3 * w + (u4 - 0.5) * 2 + 0.8 * common
    return y, x, z, np.column_stack([np.ones(n), w]), clusters


def test_iv_estimate_se_and_first_stage_f_match_linearmodels():
    """Reference: linearmodels 7.1, ``IV2SLS(y, [const, w], x, z).fit(cov_type="clustered", clusters=g,
    debiased=True)`` (its debiased clustered covariance carries the CR1 factor G/(G-1) (N-1)/(N-K)):
    params 0.030055873105368433, std_errors 0.07423284229665007, first_stage f.stat 153.479512."""
    y, x, z, exogenous, clusters = _reference_data()
    value, se, first_stage_f = iv.iv_estimate(y, x, z, exogenous, clusters)
    assert value == pytest.approx(0.030055873105368433, abs=1e-12)
    assert se == pytest.approx(0.07423284229665007, rel=1e-10)
    assert first_stage_f == pytest.approx(153.479512, rel=1e-8)


def _sm_t(y, x, z, exogenous, clusters, b):
    fit = sm.OLS(y - b * x, np.column_stack([z, exogenous])).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    return float(fit.tvalues[0])


def _grid_roots(y, x, z, exogenous, clusters, grid):
    """Where |t(b)| crosses the critical value: sign changes on the grid, refined by brentq, t from statsmodels."""
    def excess(b):
        return _sm_t(y, x, z, exogenous, clusters, b) ** 2 - CRIT**2

    values = np.array([excess(b) for b in grid])
    changes = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    roots = [optimize.brentq(excess, grid[i], grid[i + 1], xtol=1e-12, rtol=1e-14) for i in changes]
    return roots, values


def test_reduced_forms_match_statsmodels_cluster_covariances():
    y, x, z, exogenous, clusters = _reference_data()
    forms = iv.reduced_forms(y, x, z, exogenous, clusters)
    design = np.column_stack([z, exogenous])
    fits = [sm.OLS(v, design).fit(cov_type="cluster", cov_kwds={"groups": clusters}) for v in (y, x, y - 0.7 * x)]
    assert forms.gamma_y == pytest.approx(fits[0].params[0], abs=1e-12)
    assert forms.gamma_x == pytest.approx(fits[1].params[0], abs=1e-12)
    assert forms.v_yy == pytest.approx(fits[0].cov_params()[0, 0], rel=1e-10)
    assert forms.v_xx == pytest.approx(fits[1].cov_params()[0, 0], rel=1e-10)
    assert forms.first_stage_f == pytest.approx(fits[1].tvalues[0] ** 2, rel=1e-10)
    assert forms.t(0.7) == pytest.approx(fits[2].tvalues[0], rel=1e-10)  # so v_xy is right too


def test_anderson_rubin_interval_matches_grid_inversion_with_statsmodels():
    y, x, z, exogenous, clusters = _reference_data()
    forms = iv.reduced_forms(y, x, z, exogenous, clusters)
    ar = iv.anderson_rubin_set(forms, CRIT, 0.95)
    value, se, _ = iv.iv_estimate(y, x, z, exogenous, clusters)
    roots, _ = _grid_roots(y, x, z, exogenous, clusters, np.linspace(value - 8 * se, value + 8 * se, 161))
    assert ar.kind == iv.INTERVAL and len(roots) == 2
    assert ar.low == pytest.approx(roots[0], abs=1e-6) and ar.high == pytest.approx(roots[1], abs=1e-6)
    assert ar.contains(value) and not ar.contains(roots[1] + 1e-3)
    # A strong instrument (F = 153): the AR set is close to the Wald interval, not equal to it.
    assert ar.low == pytest.approx(value - CRIT * se, abs=0.5 * se) and ar.high == pytest.approx(value + CRIT * se, abs=0.5 * se)


def _weak(reduced_form: float, n: int = 1_200):
    """A first stage of exactly 0.001 (difference in means; the constant is the only exogenous regressor)."""
    rng = np.random.default_rng(7)
    z = (np.arange(n) % 2).astype(float)
    noise = rng.normal(size=n)
    x = noise - np.where(z == 1, noise[z == 1].mean(), noise[z == 0].mean()) + 0.001 * z
    e = rng.normal(size=n) + 0.5 * noise
    y = e - np.where(z == 1, e[z == 1].mean(), e[z == 0].mean()) + reduced_form * z
    return y, x, z, np.ones((n, 1)), np.arange(n) // 2


def test_anderson_rubin_set_of_a_weak_instrument_is_two_rays_matching_statsmodels():
    y, x, z, exogenous, clusters = _weak(reduced_form=0.5)
    forms = iv.reduced_forms(y, x, z, exogenous, clusters)
    assert forms.gamma_x == pytest.approx(0.001, abs=1e-12) and forms.first_stage_f < 0.01
    ar = iv.anderson_rubin_set(forms, CRIT, 0.95)
    grid = np.linspace(-40, 40, 161)
    roots, excess = _grid_roots(y, x, z, exogenous, clusters, grid)
    assert ar.kind == iv.TWO_RAYS and len(roots) == 2
    assert ar.low == pytest.approx(roots[0], abs=1e-6) and ar.high == pytest.approx(roots[1], abs=1e-6)
    assert not ar.bounded and not ar.contains(0.0) and ar.contains(1e6) and ar.contains(-1e6)
    assert all((e <= 0) == ar.contains(b) for b, e in zip(grid, excess))
    assert "unbounded" in ar.words()


def test_anderson_rubin_set_of_a_weak_instrument_with_no_reduced_form_is_the_whole_line():
    y, x, z, exogenous, clusters = _weak(reduced_form=0.0)
    ar = iv.anderson_rubin_set(iv.reduced_forms(y, x, z, exogenous, clusters), CRIT, 0.95)
    assert ar.kind == iv.WHOLE_LINE and ar.contains(-1e9) and ar.contains(1e9)
    grid = np.concatenate([-np.logspace(-3, 6, 40), np.logspace(-3, 6, 40)])
    assert max(abs(_sm_t(y, x, z, exogenous, clusters, b)) for b in grid) <= CRIT


def test_anderson_rubin_set_with_a_first_stage_at_the_critical_value_is_a_ray():
    # g_x^2 = c^2 V_xx exactly: the quadratic is linear and the set is one ray.
    forms = iv.ReducedForms(gamma_y=1.0, gamma_x=2.0, v_yy=0.1, v_xy=0.05, v_xx=1.0, n=100, clusters=50)
    ar = iv.anderson_rubin_set(forms, 2.0, 0.95)
    assert ar.kind == iv.RAY and math.isinf(ar.high) and abs(forms.t(ar.low)) == pytest.approx(2.0, rel=1e-12)
    assert abs(forms.t(ar.low + 1.0)) < 2.0 < abs(forms.t(ar.low - 0.1))


@pytest.fixture(scope="module")
def sample():
    return from_frame(simulate.simulate(rows=20_000, seed=11).tickets)


def test_randomized_estimate_holds_only_pre_treatment_variables_fixed(sample):
    """Against statsmodels' 2SLS with category, channel and tier dummies; resolution does not enter."""
    result = causal.randomized_speed(sample)
    rows = experiment_rows(models.csat_sample(sample, extra=["variant"])[0]).rows
    dummies = pd.get_dummies(rows[["category", "channel", "loyalty_tier"]].astype(str), drop_first=True, dtype=float)
    exogenous = np.column_stack([np.ones(len(rows)), dummies.to_numpy()])
    treated = (rows["variant"] == "treatment").to_numpy(dtype=float)
    speed = rows["response_log2_hours"].to_numpy(dtype=float)
    direct = IV2SLS(rows["csat"].to_numpy(dtype=float), np.column_stack([speed, exogenous]),
                    np.column_stack([treated, exogenous])).fit()
    assert result.estimate.value == pytest.approx(direct.params[0], abs=1e-10)
    assert result.estimate.n == len(rows) and result.controls == ["category", "channel", "loyalty_tier"]
    first = sm.OLS(speed, np.column_stack([treated, exogenous])).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["customer_id"])[0]})
    assert result.first_stage.value == pytest.approx(first.params[0], abs=1e-10)
    assert result.first_stage_f == pytest.approx(first.tvalues[0] ** 2, rel=1e-9)
    assert result.estimate.extra["first_stage_f"] == result.first_stage_f
    assert result.anderson_rubin.bounded and result.anderson_rubin.contains(result.estimate.value)
    # Scrambling resolution changes nothing: it is not held fixed.
    tickets = sample.tickets.copy()
    tickets["resolved"] = np.random.default_rng(0).permutation(tickets["resolved"].to_numpy())
    assert causal.randomized_speed(TicketData(tickets, sample.source)).estimate.value == pytest.approx(
        result.estimate.value, abs=1e-12)


def test_side_effects_match_statsmodels_and_holm(sample):
    side = iv_checks.sla_side_effects(sample)
    rows = experiment_rows(sample.tickets).rows
    work = np.log2((rows["resolution_minutes"] - rows["first_response_minutes"]).clip(lower=1.0))
    columns = {"resolved": rows["resolved"], "reopened": rows["reopened"], "quality_score": rows["quality_score"],
               "contacts": rows["contacts"], "work_log2_minutes": work, "survey_response": rows["csat"].notna()}
    p_values = []
    for channel, values in columns.items():
        kept = values.notna()
        design = sm.add_constant((rows.loc[kept, "variant"] == "treatment").to_numpy(dtype=float))
        fit = sm.OLS(values[kept].to_numpy(dtype=float), design).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(rows.loc[kept, "customer_id"])[0]})
        estimate = side.get(channel)
        assert estimate.value == pytest.approx(fit.params[1], abs=1e-10)
        assert estimate.se == pytest.approx(fit.bse[1], rel=1e-9)
        assert estimate.p_value == pytest.approx(fit.pvalues[1], rel=1e-7)
        assert (estimate.ci_low, estimate.ci_high) == pytest.approx(tuple(fit.conf_int()[1]), rel=1e-9)
        assert estimate.extra["control_mean"] == pytest.approx(fit.params[0], abs=1e-10) and estimate.n == kept.sum()
        p_values.append(fit.pvalues[1])
    holm = multipletests(p_values, method="holm")[1]
    assert [e.extra["p_holm"] for e in side.estimates] == pytest.approx(list(holm), rel=1e-7)
    assert side.checked == list(columns) and list(side.table["moved"]) == ["yes" if p < 0.05 else "no" for p in holm]


def test_holm_matches_statsmodels_with_ties_and_ones():
    p = [0.01, 0.04, 0.04, 0.03, 0.5, 0.002, 1.0]
    assert iv_checks.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)


def test_a_planted_direct_effect_of_the_sla_is_flagged_and_moves_the_estimate_by_direct_over_first_stage():
    """Treated customers' answers drop one point with probability 0.3 (rushed replies) and their QA scores by 3."""
    tickets = simulate.simulate(rows=30_000, seed=5).tickets
    clean = from_frame(tickets)
    rng = np.random.default_rng(99)
    treated = tickets["variant"].eq("treatment").to_numpy()
    answered = tickets["csat"].notna().to_numpy()
    drop = treated & answered & (tickets["csat"].fillna(1).to_numpy() > 1) & (rng.random(len(tickets)) < 0.3)
    planted = tickets.copy()
    planted["csat"] = planted["csat"] - pd.array(drop.astype(int), dtype="Int64")
    planted["quality_score"] = np.where(treated, planted["quality_score"] - 3, planted["quality_score"])
    violated = from_frame(planted)

    side = iv_checks.sla_side_effects(violated)
    assert "quality_score" in side.moved and side.get("quality_score").value == pytest.approx(-3, abs=4 * side.get("quality_score").se)
    warning = side.findings()[0]
    assert warning.kind == "warning" and "The SLA also moved QA score" in warning.text and "mixes speed" in warning.text
    assert "the SLA also moved QA score" in side.verdict()

    before, after = causal.randomized_speed(clean), causal.randomized_speed(violated)
    # IV is linear in the outcome: the shift is the IV estimate of the planted change d, whose mean among
    # treated respondents is the direct effect; its noise is the Bernoulli draws' (SE of a mean over the first stage).
    d = -drop[treated & answered].astype(float)
    direct_effect = d.mean()
    expected = direct_effect / after.first_stage.value
    se = d.std(ddof=1) / math.sqrt(d.size) / abs(after.first_stage.value)
    assert after.estimate.value - before.estimate.value == pytest.approx(expected, abs=4 * se)
    assert expected > 0.15  # the planted effect is large next to the true -0.15


def test_speed_effect_table_shows_the_comparison_set():
    def estimate(name, value):
        return Estimate(name, name, value, 0.01, value - 0.02, value + 0.02, 0.001, 100, "m")

    naive, direct, total, randomized = (estimate(n, v) for n, v in (("naive", -0.2), ("direct", -0.15),
                                                                  ("total", -0.16), ("randomized", -0.14)))
    table = causal.speed_effect_table(naive, direct, randomized, truth=-0.15, held_fixed=["category"], total=total)
    assert list(table.index) == ["naive", "adjusted, direct (resolution held fixed)",
                                 "adjusted, total (resolution not held fixed)", "randomized, total (SLA experiment)"]
    answers = table["what it answers"]
    assert "compare it with the adjusted total" in answers.iloc[3] and "only through speed" in answers.iloc[3]
    assert "no confounding" not in " ".join(answers)
    old = causal.speed_effect_table(naive, direct, randomized, truth=-0.15)  # old callers: no total
    assert len(old) == 3 and "not estimated here" in old["what it answers"].iloc[2]
    assert len(causal.speed_effect_table(naive, direct, None)) == 2


def test_speed_effects_find_the_adjusted_total_when_the_drivers_have_it(sample):
    drivers = models.satisfaction_drivers(sample)
    randomized = causal.randomized_speed_effect(sample)
    assert "adjusted, total (resolution not held fixed)" in causal.speed_effects(drivers, randomized).index
    drivers.adjusted = [e for e in drivers.adjusted if e.name != causal.TOTAL_ADJUSTED]
    assert len(causal.speed_effects(drivers, randomized)) == 3


def test_findings_and_assumptions_say_what_randomization_buys_and_what_it_assumes(sample):
    randomized, side = causal.randomized_speed(sample), iv_checks.sla_side_effects(sample)
    total = Estimate(causal.TOTAL_ADJUSTED, "total", -0.15, 0.01, -0.17, -0.13, 0.001, 100, "m")
    lines = iv_findings.randomized_findings(randomized, total=total, side=side, truth=-0.15)
    kinds = [f.kind for f in lines]
    assert lines[0].headline and "assumes that the SLA changed CSAT only through speed" in lines[0].text
    assert "same question" in lines[1].text and kinds[2] == "check" and "Anderson–Rubin" in lines[2].text
    assert kinds[-1] == "truth" and not any("no confounding" in f.text for f in lines)
    said = iv_findings.assumptions(randomized, side)
    assert [s.split(":")[0] for s in said] == ["Randomization (independence)", "Relevance", "Monotonicity", "Exclusion",
                                               "Respondents only", "Held fixed", "Comparison target", "Scale"]
    assert f"F = {randomized.first_stage_f:,.1f}" in said[1] and side.verdict() in said[3]
    assert iv_findings.randomized_findings(Skipped("randomized estimate", "one arm")) == []


def test_a_weak_experiment_is_reported_with_its_anderson_rubin_set(sample):
    """Shuffle response times across tickets: the SLA no longer moves them, the instrument is weak."""
    tickets = sample.tickets.copy()
    for column in ("first_response_minutes", "response_log2_hours"):
        tickets[column] = tickets[column].to_numpy()[np.random.default_rng(3).permutation(len(tickets))]
    result = causal.randomized_speed(TicketData(tickets, sample.source))
    assert result.first_stage_f < causal.WEAK_F  # no first stage left but chance: F is about chi-square(1)
    lines = iv_findings.randomized_findings(result)
    warning = next(f for f in lines if "Strength" in f.text)
    assert warning.kind == "warning" and result.anderson_rubin.words() in warning.text and "weak" in warning.text
    assert "too little to pin the effect down" in lines[0].text and "95% CI" not in lines[0].text


def test_no_experiment_or_one_arm_is_skipped_with_a_reason(sample):
    no_variant = TicketData(sample.tickets.drop(columns=["variant", "experiment_id"]), sample.source)
    assert causal.randomized_speed(no_variant) is None and iv_checks.sla_side_effects(no_variant) is None
    one_arm = sample.tickets.copy()
    one_arm["variant"] = "control"
    data = TicketData(one_arm, sample.source)
    for result in (causal.randomized_speed(data), iv_checks.sla_side_effects(data)):
        assert isinstance(result, Skipped) and "treatment 0" in result.reason


def test_a_channel_constant_within_each_arm_moved_exactly_and_an_empty_one_is_left_out_with_a_note(sample):
    tickets = sample.tickets.copy()
    tickets["quality_score"] = np.where(tickets["variant"] == "treatment", 60.0, 70.0)
    tickets["reopened"] = pd.NA
    side = iv_checks.sla_side_effects(TicketData(tickets, sample.source))
    quality = side.get("quality_score")
    assert quality.value == pytest.approx(-10.0) and quality.se == pytest.approx(0.0, abs=1e-9)
    assert quality.p_value == 0.0 and "quality_score" in side.moved
    assert side.get("reopened") is None and side.notes == ["the SLA's effect on reopening: not checked, the data does not record it"]


def test_the_satisfaction_study_carries_the_checks(sample):
    from study.regression import satisfaction

    result = satisfaction.study(sample, bootstrap=20)
    names = [e.name for e in result.estimates]
    assert {"csat_per_doubling_randomized", "first_stage_sla_on_log2_response_hours", "sla_effect_on_quality_score",
            "sla_effect_on_survey_response"} <= set(names) and len(names) == len(set(names))
    assert result.randomized is result.iv.estimate
    assert result.randomized_findings(-0.15)[0].estimates == ("csat_per_doubling_randomized", "first_stage_sla_on_log2_response_hours")
    assert result.randomized_assumptions()[0].startswith("Randomization")
