"""Time to next purchase: against PHReg called directly, a process with a known hazard ratio, and the simulator."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import survival


@pytest.fixture(scope="module")
def large():
    study = simulate.simulate(rows=50_000, seed=1)
    return survival.time_to_next_purchase(from_frame(study.tickets))


@pytest.fixture(scope="module")
def small(small_data):
    return survival.time_to_next_purchase(small_data)


def test_hazard_ratios_match_phreg_called_directly(small_data, small):
    frame = small_data.tickets.copy()
    for column in ("repeat_purchase", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier"):
        frame[column] = frame[column].astype(str)
    direct = smf.phreg(
        "days_to_next_purchase ~ response_log2_hours + resolved + reopened + C(category) + C(channel) + C(loyalty_tier)",
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


def test_proportional_hazards_check_has_one_row_per_term(small):
    check = small.proportional_hazards
    assert list(check.index) == list(small.table.index)
    assert check["correlation with purchase day (rank)"].abs().max() < 0.2
    assert check["p-value"].between(0, 1).all()


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
    assert [e.name for e in result.estimates] == ["repurchase_hazard_ratio_per_doubling", "repurchase_hazard_ratio_resolved"]
    assert "category not held fixed: the data has no such column" in result.notes


def test_rows_missing_the_purchase_day_are_counted(small_data):
    tickets = small_data.tickets.copy()
    tickets.loc[tickets.index[:25], "days_to_next_purchase"] = np.nan
    result = survival.time_to_next_purchase(TicketData(tickets, small_data.source))
    assert result.ledger.as_dict()["dropped"] == {"missing days_to_next_purchase": 25}
    assert result.get("repurchase_hazard_ratio_per_doubling").n == len(tickets) - 25
