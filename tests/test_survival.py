"""Time to next purchase: against PHReg called directly, a process with a known hazard ratio, and the simulator."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import integrate
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import repeat_sentences, rmst, survival
from study.stats import rmst as km
from study.stats import schoenfeld


@pytest.fixture(scope="module")
def simulated():
    return simulate.simulate(rows=50_000, seed=1)


@pytest.fixture(scope="module")
def large(simulated):
    return survival.time_to_next_purchase(from_frame(simulated.tickets))


@pytest.fixture(scope="module")
def small(small_data):
    return survival.time_to_next_purchase(small_data)


def test_hazard_ratios_match_phreg_called_directly(small_data, small):
    frame = small_data.tickets.copy()
    for column in ("repeat_purchase", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier", "agent_id"):
        frame[column] = frame[column].astype(str)
    direct = smf.phreg(  # agents held fixed by dummies (60 agents, at most 200)
        "days_to_next_purchase ~ response_log2_hours + resolved + reopened + C(category) + C(channel) + C(loyalty_tier)"
        " + C(agent_id)",
        frame, status=frame["repeat_purchase"].to_numpy(), ties="breslow",
    ).fit(groups=pd.factorize(frame["customer_id"])[0])
    np.testing.assert_allclose(small.fit.params, direct.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(small.fit.bse, direct.bse, rtol=0, atol=1e-10)
    column = direct.model.exog_names.index("response_log2_hours")
    speed = small.get("repurchase_hazard_ratio_per_doubling")
    assert speed.value == pytest.approx(np.exp(direct.params[column]), abs=1e-10)
    assert speed.ci_low == pytest.approx(np.exp(direct.conf_int()[column, 0]), abs=1e-10)
    assert speed.extra["se_log_hazard_ratio"] == pytest.approx(direct.bse[column], abs=1e-10)
    assert speed.p_value == pytest.approx(direct.pvalues[column], abs=1e-12)


def test_clustered_standard_errors_differ_from_model_based_ones(small):
    """groups= switches PHReg to the sandwich: customers with several tickets make the SEs differ."""
    model_based = small.fit.model.fit().bse
    assert not np.allclose(small.fit.bse, model_based, rtol=1e-3)


def test_recovers_a_known_hazard_ratio_from_a_proportional_hazards_process():
    """Exponential times with hazard exp(-0.2 x + 0.4 resolved), censored at 90 days: the CIs cover the truth."""
    rng = np.random.default_rng(4)
    n = 3_000  # continuous times: every purchase its own risk set, which PHReg's robust covariance loops over
    customer = rng.integers(0, 2_000, n)
    speed = rng.normal(0, 1.5, n)
    resolved = (rng.random(n) < 0.8).astype(float)
    days = rng.exponential(60 / np.exp(-0.2 * speed + 0.4 * resolved))
    rows = pd.DataFrame({
        "days_to_next_purchase": np.minimum(days, 90.0), "repeat_purchase": (days <= 90).astype(float),
        "response_log2_hours": speed, "resolved": resolved, "customer_id": customer.astype(str),
    })
    fit = survival.fit_cox(rows, ["response_log2_hours", "resolved"], [])
    low, high = fit.conf_int()[:, 0], fit.conf_int()[:, 1]
    assert low[0] <= -0.2 <= high[0] and low[1] <= 0.4 <= high[1]


def test_faster_replies_and_resolution_raise_the_hazard_of_buying_again(large):
    speed, resolved = large.get("repurchase_hazard_ratio_per_doubling"), large.get("repurchase_hazard_ratio_resolved")
    assert speed.ci_high < 1  # each doubling of the wait lowers the rate of buying again
    assert resolved.ci_low > 1
    assert large.table.loc["log2 first response hours", "hazard ratio"] == pytest.approx(speed.value)


def test_share_who_bought_again_falls_with_slower_first_responses(large):
    by_day_90 = large.bought_by.xs(90, level="day")
    by_day_90 = by_day_90.loc[by_day_90["tickets"] >= 1_000, "bought again"]  # bands large enough to order
    assert len(by_day_90) >= 4 and list(by_day_90) == sorted(by_day_90, reverse=True)


def test_bought_by_is_the_plain_share_when_no_one_is_censored_before_the_window(small_data, small):
    tickets = small_data.tickets
    fast = tickets[tickets["response_band"] == "under 15 min"]
    bought_within_30 = (fast["repeat_purchase"].astype(bool) & (fast["days_to_next_purchase"] <= 30)).mean()
    assert small.bought_by.loc[("under 15 min", 30), "bought again"] == pytest.approx(bought_within_30, abs=1e-12)


def test_proportional_hazards_check_has_one_row_per_term_and_a_verdict(small):
    check = small.proportional_hazards
    assert list(check.index) == list(small.table.index)
    shown = [not name.startswith("C(agent_id)") for name in small.fit.model.exog_names]  # agent dummies held fixed, not shown
    np.testing.assert_allclose(check["log hazard ratio"], small.fit.params[shown], rtol=0, atol=1e-15)
    assert check["p-value"].between(0, 1).all()
    assert set(check["verdict"]) <= {schoenfeld.HOLDS, schoenfeld.FAILS, schoenfeld.NEGLIGIBLE}
    drift = small.get("repurchase_log_hazard_ratio_drift_per_doubling")
    row = check.loc["log2 first response hours"]
    assert drift.value == row["drift"] and drift.p_value == row["p-value"] and drift.extra["verdict"] == row["verdict"]
    assert small.verdict() == row["verdict"] and small.verdict("resolved") == check.loc["resolved", "verdict"]


def test_skips_cleanly_without_days_to_next_purchase(small_data):
    tickets = small_data.tickets.drop(columns=["days_to_next_purchase"])
    result = survival.time_to_next_purchase(TicketData(tickets, small_data.source))
    assert result.skipped.startswith("the data has no days_to_next_purchase column")
    assert result.estimates == [] and result.fit is None and result.table.empty
    assert result.ledger.as_dict() == {"in": len(tickets), "used": len(tickets), "dropped": {}}


def test_runs_without_optional_columns_and_says_what_it_left_out(small_data):
    tickets = small_data.tickets.drop(columns=["agent_id", "reopened", "category", "channel", "loyalty_tier"])
    result = survival.time_to_next_purchase(TicketData(tickets, small_data.source))
    assert result.skipped is None
    assert result.fit.model.exog_names == ["response_log2_hours", "resolved"]
    assert [e.name for e in result.hazard_ratios] == ["repurchase_hazard_ratio_per_doubling", "repurchase_hazard_ratio_resolved"]
    assert [e.name for e in result.drifts] == ["repurchase_log_hazard_ratio_drift_per_doubling",
                                               "repurchase_log_hazard_ratio_drift_resolved"]
    assert [e.name for e in result.rmst] == list(rmst.NAMES.values())
    assert "category not held fixed: the data has no such column" in result.notes


def test_rows_missing_the_purchase_day_are_counted(small_data):
    tickets = small_data.tickets.copy()
    tickets.loc[tickets.index[:25], "days_to_next_purchase"] = np.nan
    result = survival.time_to_next_purchase(TicketData(tickets, small_data.source))
    assert result.ledger.as_dict()["dropped"] == {"missing days_to_next_purchase": 25}
    assert result.get("repurchase_hazard_ratio_per_doubling").n == len(tickets) - 25


# Restricted mean survival time ---------------------------------------------------------------------


def _rmst_data():
    """Days with ties, censoring from day 20 to 120, two groups (the data of the lifelines reference)."""
    rng = np.random.default_rng(777)
    n = 300
    group = rng.random(n) < 0.5
    t = np.ceil(rng.exponential(np.where(group, 30.0, 45.0)))
    c = np.ceil(rng.uniform(20, 120, n))
    return np.minimum(t, c), (t <= c), group


# lifelines 0.30.3: restricted_mean_survival_time(KaplanMeierFitter().fit(time, event), t=tau) of group 1,
# group 0 and everyone, on _rmst_data().
LIFELINES_RMST = {
    60.0: (23.452546692860697, 31.95218772590205, 27.400456225847996),
    90.0: (25.739038977372047, 36.37323010785458, 30.7582454798919),
    57.5: (23.160476510532604, 31.318695094324987, 26.947806005929035),
}


@pytest.mark.parametrize("tau", sorted(LIFELINES_RMST))
def test_rmst_matches_lifelines_and_integrates_statsmodels_km_curve(tau):
    time, event, group = _rmst_data()
    for expected, mask in zip(LIFELINES_RMST[tau], (group, ~group, np.ones_like(group))):
        ours = km.kaplan_meier(time[mask], event[mask], tau).rmst
        assert ours == pytest.approx(expected, rel=1e-12)
        curve = SurvfuncRight(time[mask], event[mask].astype(float))  # statsmodels' own Kaplan-Meier

        def survival_at(t, curve=curve):
            at = np.searchsorted(curve.surv_times, t, side="right") - 1
            return curve.surv_prob[at] if at >= 0 else 1.0

        breaks = curve.surv_times[curve.surv_times < tau]
        area, _ = integrate.quad(survival_at, 0, tau, points=breaks, limit=500, epsabs=1e-10)
        assert ours == pytest.approx(area, abs=1e-7)


def test_rmst_influence_is_the_derivative_of_the_weighted_rmst_and_gives_greenwood():
    """psi_i against a central difference of a weighted Kaplan-Meier RMST written here from its definition."""
    time, event, _ = _rmst_data()
    time, event, tau = time[:80], event[:80], 50.0

    def weighted_rmst(weights):
        area, survival, previous = 0.0, 1.0, 0.0
        for t in np.unique(time[event & (time <= tau)]):
            area += survival * (t - previous)
            previous = t
            survival *= 1 - weights[(time == t) & event].sum() / weights[time >= t].sum()
        return area + survival * (tau - previous)

    curve = km.kaplan_meier(time, event, tau)
    psi = km.influence(time, event, curve)
    step = 1e-6
    for i in range(len(time)):
        up, down = np.ones(len(time)), np.ones(len(time))
        up[i] += step
        down[i] -= step
        assert psi[i] == pytest.approx((weighted_rmst(up) - weighted_rmst(down)) / (2 * step), abs=1e-6)
    assert psi @ psi == pytest.approx(km.greenwood_variance(curve), rel=1e-12)
    assert km.clustered_variance(psi, np.arange(len(psi))) == pytest.approx(km.greenwood_variance(curve), rel=1e-12)


def test_pseudo_observations_are_the_capped_times_without_early_censoring():
    rng = np.random.default_rng(5)
    days = np.ceil(rng.exponential(30, 500))
    capped, event = np.minimum(days, 90.0), days <= 90
    np.testing.assert_allclose(km.pseudo_observations(capped, event, 90.0), capped, atol=1e-9)
    assert km.kaplan_meier(capped, event, 90.0).rmst == pytest.approx(capped.mean(), rel=1e-12)


def test_rmst_standard_errors_match_the_spread_over_repeated_samples():
    """600 samples of 150 customers with 3 tickets sharing a frailty: the clustered SE matches the
    Monte Carlo SD of the RMST (tolerance four Monte Carlo SEs of an SD plus 5%), and Greenwood's,
    which treats tickets as independent, falls short of it."""
    rng = np.random.default_rng(21)
    estimates, clustered, greenwood = [], [], []
    customers = np.repeat(np.arange(150), 3)
    for _ in range(600):
        frailty = rng.gamma(1.0, 1.0, 150)[customers]  # variance 1: strong within-customer correlation
        t = rng.exponential(30 / frailty)
        c = rng.uniform(10, 150, len(t))
        time, event = np.minimum(t, c), t <= c
        curve = km.kaplan_meier(time, event, 60.0)
        estimates.append(curve.rmst)
        greenwood.append(np.sqrt(km.greenwood_variance(curve)))
        clustered.append(np.sqrt(km.clustered_variance(km.influence(time, event, curve), customers)))
    spread = np.std(estimates, ddof=1)
    tolerance = 4 / np.sqrt(2 * (len(estimates) - 1)) + 0.05
    assert np.mean(clustered) == pytest.approx(spread, rel=tolerance)
    assert np.mean(greenwood) < spread * (1 - tolerance)


def test_rmst_contrast_is_the_difference_of_the_group_curves(small_data, small):
    rows = small.ledger.frame
    contrast = small.get("repurchase_rmst_days_fast_minus_slow")
    fast, slow = rmst.groups(rows)
    time = rows["days_to_next_purchase"].to_numpy(float)
    tau = small.window
    assert tau == 90.0 and contrast.extra["tau_days"] == tau
    # No ticket is censored before the window's end: each RMST is the mean of the days
    assert contrast.extra["rmst_fast_days"] == pytest.approx(time[fast].mean(), rel=1e-12)
    assert contrast.value == pytest.approx(time[fast].mean() - time[slow].mean(), rel=1e-12)
    assert contrast.n == fast.sum() + slow.sum()
    singletons = rows.assign(customer_id=np.arange(len(rows)).astype(str))
    unclustered = rmst.contrast(singletons, tau, 0.05)
    assert unclustered.se == pytest.approx(unclustered.extra["se_greenwood"], rel=1e-12)
    assert contrast.se != pytest.approx(unclustered.se, rel=1e-3)  # customers with several tickets


def test_adjusted_rmst_is_least_squares_of_the_capped_days(small_data, small):
    """With censoring only at the window's end the pseudo-observations are the capped days: OLS of them
    with clustered SEs, as statsmodels fits it directly."""
    frame = small_data.tickets.copy()
    for column in ("repeat_purchase", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier"):
        frame[column] = frame[column].astype(str)
    direct = smf.ols(
        "days_to_next_purchase ~ response_log2_hours + resolved + reopened + C(category) + C(channel) + C(loyalty_tier)",
        frame).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["customer_id"])[0]})
    ours = small.get("repurchase_rmst_days_per_doubling_adjusted")
    assert ours.value == pytest.approx(direct.params["response_log2_hours"], rel=1e-9)
    assert ours.se == pytest.approx(direct.bse["response_log2_hours"], rel=1e-9)
    fast, slow = rmst.groups(small.ledger.frame)
    both = frame[fast | slow].assign(fast_reply=fast[fast | slow].astype(float))
    contrast = smf.ols("days_to_next_purchase ~ fast_reply + resolved + reopened + C(category) + C(channel) + C(loyalty_tier)",
                       both).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(both["customer_id"])[0]})
    adjusted = small.get("repurchase_rmst_days_fast_minus_slow_adjusted")
    assert adjusted.value == pytest.approx(contrast.params["fast_reply"], rel=1e-9)
    assert adjusted.ci_low == pytest.approx(contrast.conf_int().loc["fast_reply", 0], rel=1e-9)


def test_adjusted_rmst_per_doubling_recovers_the_simulators_days(simulated, large):
    """The simulator draws a purchase with probability p(x), linear, and for buyers a delay
    min(90, 1 + floor(Exponential(mean 25))) that does not depend on x; non-buyers count 90 days. So the
    mean days are 90 - p(x) (90 - m), m = sum_{j=0}^{89} exp(-j / 25), and each doubling changes them by
    -(90 - m) times the total effect on p. Tolerance: four standard errors."""
    m = np.exp(-np.arange(90) / 25.0).sum()
    truth = -(90 - m) * simulated.truth["repeat_total_per_doubling_response_time"]
    estimate = large.get("repurchase_rmst_days_per_doubling_adjusted")
    assert truth == pytest.approx(1.2386, abs=1e-4)
    assert estimate.value == pytest.approx(truth, abs=4 * estimate.se)
    assert estimate.ci_low > 0  # slower replies go with more days before the next purchase


# Hazard ratios by period ---------------------------------------------------------------------------


def test_period_ratios_equal_one_model_on_episodes_with_entry_times():
    """Each ticket split into episodes (0, 30], (30, 60], (60, 90] with period-specific coefficients, fitted
    as one PHReg with entry times (statsmodels counts an episode at risk from its entry time itself, so
    entry is set half a day after the period's start to express the open interval): the same ratios and
    robust SEs as the per-period fits."""
    rng = np.random.default_rng(3)
    n = 600
    x, resolved = rng.normal(0, 1, n), (rng.random(n) < 0.7).astype(float)
    t = np.ceil(rng.exponential(40 / np.exp(0.3 * x + 0.2 * resolved)))
    days, event, customer = np.minimum(t, 90.0), t <= 90, rng.integers(0, 400, n)
    rows = pd.DataFrame({"days_to_next_purchase": days, "repeat_purchase": event, "response_log2_hours": x,
                         "resolved": resolved, "customer_id": customer.astype(str)})
    table, estimates = survival._periods(rows, ["resolved"], [], 0.05, "customer_id", 90.0)
    episodes = []
    for p, (start, end) in enumerate(zip([0, 30, 60], [30, 60, 90])):
        for i in np.flatnonzero(days > start):
            exog = np.zeros(6)
            exog[2 * p: 2 * p + 2] = x[i], resolved[i]
            episodes.append((start + 0.5 * (start > 0), min(days[i], end), float(event[i] and days[i] <= end), customer[i], *exog))
    episodes = np.array(episodes)
    joint = PHReg(episodes[:, 1], episodes[:, 4:], status=episodes[:, 2], entry=episodes[:, 0], ties="breslow").fit(
        groups=episodes[:, 3])
    np.testing.assert_allclose([e.extra["log_hazard_ratio"] for e in estimates], joint.params[[0, 2, 4]], rtol=1e-7)
    np.testing.assert_allclose([e.extra["se_log_hazard_ratio"] for e in estimates], joint.bse[[0, 2, 4]], rtol=1e-7)
    assert list(table.index) == ["days 0-30", "days 30-60", "days 60-90"]
    assert table["tickets at risk"].tolist() == [n, int((days > 30).sum()), int((days > 60).sum())]


# Sentences ------------------------------------------------------------------------------------------


def test_survival_findings_warn_when_the_check_fails_for_speed_and_quote_the_rmst(large):
    result = _with_speed_verdict(large, schoenfeld.FAILS)
    (finding,) = repeat_sentences.survival_findings(result)
    assert finding.kind == "warning" and finding.text.startswith("**The hazard ratio is an average.**")
    contrast = result.get("repurchase_rmst_days_fast_minus_slow")
    assert f"{abs(contrast.value):.1f} fewer days" in finding.text
    assert set(finding.estimates) >= {"repurchase_hazard_ratio_per_doubling", "repurchase_rmst_days_per_doubling_adjusted",
                                      "repurchase_hazard_ratio_per_doubling_period_1"}
    holds = repeat_sentences.survival_findings(_with_speed_verdict(large, schoenfeld.HOLDS))
    assert holds[0].text.startswith("**Proportional hazards.** The check holds for speed")
    assert holds[1].text.startswith("**Days to the next purchase.**")


def _with_speed_verdict(result, verdict):
    from dataclasses import replace

    drifts = [replace(e, extra={**e.extra, "verdict": verdict if e.name.endswith("per_doubling") else schoenfeld.HOLDS})
              for e in result.drifts]
    return replace(result, drifts=drifts)


def test_rmst_is_skipped_with_a_reason_when_a_group_is_empty(small_data):
    tickets = small_data.tickets.copy()
    tickets["response_log2_hours"] = tickets["response_log2_hours"].clip(upper=1.9)  # nobody waits over 4 hours
    result = survival.time_to_next_purchase(TicketData(tickets, small_data.source))
    assert result.skipped is None and result.rmst == [] and result.window is None
    assert result.rmst_skipped.startswith("0 tickets answered after more than 4 hours")
    assert "not estimated: 0 tickets" in " ".join(f.text for f in repeat_sentences.survival_findings(result))
