"""Key-driver analysis against statsmodels fits, closed forms, brute force and the simulator's process."""

from itertools import permutations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import key_drivers
from study.stats import shapley


@pytest.fixture(scope="module")
def simulated():
    return from_frame(simulate.simulate(rows=20_000, seed=1).tickets)


@pytest.fixture(scope="module")
def drivers(simulated):
    return key_drivers.key_drivers(simulated)


def _ols_r_squared(frame, outcome, predictors):
    design = sm.add_constant(frame[list(predictors)].to_numpy(dtype=float), has_constant="add")
    return sm.OLS(frame[outcome].to_numpy(dtype=float), design).fit().rsquared if predictors else 0.0


def _correlated_frame(k, rows=400, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(k, k)) + np.eye(k)
    x = rng.normal(size=(rows, k)) @ mixing
    y = x @ rng.normal(size=k) + rng.normal(scale=3.0, size=rows)
    return pd.DataFrame(np.column_stack([x, y]), columns=[*(f"x{j}" for j in range(k)), "y"])


def _analysed_rows(data, attributes):
    tickets = data.tickets
    rows = tickets[tickets["csat"].notna()].dropna(subset=attributes)
    return rows[[*attributes, "csat"]].astype(float)


def test_shares_add_up_to_the_full_r_squared_of_statsmodels_ols(simulated, drivers):
    assert drivers.attributes == key_drivers.ATTRIBUTES
    assert drivers.table["importance"].sum() == pytest.approx(drivers.r_squared, abs=1e-12)
    rows = _analysed_rows(simulated, drivers.attributes)
    assert drivers.n == len(rows) == drivers.ledger.rows_used
    assert drivers.r_squared == pytest.approx(_ols_r_squared(rows, "csat", drivers.attributes), abs=1e-10)
    assert drivers.table["share_of_explained"].sum() == pytest.approx(1.0, abs=1e-12)


def test_two_predictors_match_the_closed_form():
    frame = _correlated_frame(2)
    r1, r2, r12 = (_ols_r_squared(frame, "y", p) for p in (["x0"], ["x1"], ["x0", "x1"]))
    shares = shapley.r_squared_shares(frame, "y", ["x0", "x1"])
    assert shares["x0"] == pytest.approx((r1 + (r12 - r2)) / 2, abs=1e-10)
    assert shares["x1"] == pytest.approx((r2 + (r12 - r1)) / 2, abs=1e-10)


@pytest.mark.parametrize("k", [3, 4])
def test_shares_match_brute_force_over_every_order_of_entry(k):
    """Shapley value by its definition: the mean R² gain over all k! orders, each subset refitted."""
    frame = _correlated_frame(k, seed=k)
    names = [f"x{j}" for j in range(k)]
    r2 = {}
    for order in permutations(names):
        for size in range(k + 1):
            key = frozenset(order[:size])
            if key not in r2:
                r2[key] = _ols_r_squared(frame, "y", sorted(key))
    gains = {name: 0.0 for name in names}
    orders = list(permutations(names))
    for order in orders:
        for position, name in enumerate(order):
            gains[name] += r2[frozenset(order[: position + 1])] - r2[frozenset(order[:position])]
    expected = pd.Series({name: total / len(orders) for name, total in gains.items()})
    shares = shapley.r_squared_shares(frame, "y", names)
    np.testing.assert_allclose(shares[names].to_numpy(), expected[names].to_numpy(), rtol=0, atol=1e-10)


def test_uncorrelated_predictors_get_their_squared_standardized_coefficients():
    rng = np.random.default_rng(11)
    rows = 300
    # Columns orthogonal to the constant and to each other: sample correlations exactly zero.
    basis, _ = np.linalg.qr(np.column_stack([np.ones(rows), rng.normal(size=(rows, 3))]))
    x = basis[:, 1:] * np.array([2.0, 0.5, 7.0])
    y = x @ np.array([1.0, -3.0, 0.2]) + rng.normal(size=rows)
    frame = pd.DataFrame(np.column_stack([x, y]), columns=["x0", "x1", "x2", "y"])
    shares = shapley.r_squared_shares(frame, "y", ["x0", "x1", "x2"])
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    standardized = fit.params[1:] * x.std(axis=0) / y.std()
    squared_correlation = [np.corrcoef(x[:, j], y)[0, 1] ** 2 for j in range(3)]
    np.testing.assert_allclose(shares.to_numpy(), standardized**2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(shares.to_numpy(), squared_correlation, rtol=0, atol=1e-12)


def test_resolution_outranks_the_qa_score_on_simulated_tickets(drivers):
    """What the documented process implies.

    Resolution moves CSAT by 0.80 points and about a quarter of answered tickets are unresolved, so
    it alone explains about 0.8² x 0.19 / var(CSAT ≈ 1) ≈ 0.12 of the variance. The QA score is
    10 x agent skill + Normal(0, 8) noise, and skill reaches CSAT only through 0.10 x skill plus the
    0.05 x skill it adds to resolution (x 0.80): a squared correlation of about
    (0.14 x 10 / 3)² / (100 / 3 + 64) ≈ 0.002.
    """
    resolved, quality = drivers.get("importance_resolved"), drivers.get("importance_quality_score")
    assert resolved.value > 0.05
    assert quality.value < 0.01
    assert resolved.ci_low > quality.ci_high
    assert drivers.table.set_index("attribute").loc["resolved", "rank"] == 1


def test_same_seed_gives_the_same_intervals_and_another_seed_does_not(simulated, drivers):
    again = key_drivers.key_drivers(simulated, seed=2026)
    other = key_drivers.key_drivers(simulated, seed=7)
    pd.testing.assert_frame_equal(again.table, drivers.table)
    assert [e.to_dict() for e in again.estimates] == [e.to_dict() for e in drivers.estimates]
    assert other.get("importance_resolved").value == drivers.get("importance_resolved").value
    assert other.get("importance_resolved").ci_low != drivers.get("importance_resolved").ci_low


def test_intervals_are_percentiles_of_the_replicates_and_contain_the_estimate(drivers):
    assert len(drivers.replicates) == 500
    for attribute in drivers.attributes:
        estimate = drivers.get(f"importance_{attribute}")
        draws = drivers.replicates[attribute].to_numpy()
        assert estimate.ci_low == pytest.approx(np.quantile(draws, 0.025), abs=1e-15)
        assert estimate.ci_high == pytest.approx(np.quantile(draws, 0.975), abs=1e-15)
        assert estimate.se == pytest.approx(draws.std(ddof=1), abs=1e-15)
        assert estimate.covers(estimate.value)
        assert estimate.p_value is None and estimate.n == drivers.n and estimate.ci_level == 0.95
        assert "Shapley" in estimate.method and "percentile bootstrap, 500 replicates" in estimate.method
    replicate_sums = drivers.replicates[drivers.attributes].sum(axis=1)
    np.testing.assert_allclose(replicate_sums, drivers.replicates["r_squared"], rtol=0, atol=1e-12)


def test_bootstrap_resamples_customers_with_all_their_tickets():
    """Giving every customer a copy of each ticket changes nothing when customers are resampled,
    and narrows the intervals by about 1/sqrt(2) when tickets are resampled one by one."""
    data = from_frame(simulate.simulate(rows=4_000, seed=5).tickets)
    copies = data.tickets.assign(ticket_id=data.tickets["ticket_id"] + "-copy")
    doubled = TicketData(pd.concat([data.tickets, copies], ignore_index=True), data.source)
    single, twice = key_drivers.key_drivers(data, n_boot=300), key_drivers.key_drivers(doubled, n_boot=300)
    assert twice.n == 2 * single.n and twice.clusters == single.clusters
    np.testing.assert_allclose(twice.replicates.to_numpy(), single.replicates.to_numpy(), rtol=0, atol=1e-12)
    by_ticket = key_drivers.key_drivers(doubled, n_boot=300, cluster=None)
    assert by_ticket.clusters == twice.n
    ratio = by_ticket.get("importance_resolved").se / twice.get("importance_resolved").se
    assert ratio < 0.85


def test_missing_optional_attributes_are_left_out_with_a_note(simulated):
    tickets = simulated.tickets.drop(columns=["quality_score", "reopened"])
    data = TicketData(tickets, simulated.source)
    result = key_drivers.key_drivers(data, n_boot=200)
    assert result.attributes == ["response_log2_hours", "resolved", "contacts"]
    assert result.notes == ["reopened left out: not in the data", "quality_score left out: not in the data"]
    assert result.table["importance"].sum() == pytest.approx(result.r_squared, abs=1e-12)
    rows = _analysed_rows(data, result.attributes)
    assert result.r_squared == pytest.approx(_ols_r_squared(rows, "csat", result.attributes), abs=1e-10)
    assert all(e.covers(e.value) for e in result.estimates)


def test_a_constant_attribute_is_left_out(simulated):
    tickets = simulated.tickets.assign(reopened=False)
    result = key_drivers.key_drivers(TicketData(tickets, simulated.source), n_boot=50)
    assert "reopened" not in result.attributes
    assert result.notes == ["reopened left out: a single value among answered tickets"]


def test_ledger_counts_unanswered_tickets_and_missing_attributes(simulated):
    tickets = simulated.tickets.copy()
    answered = tickets.index[tickets["csat"].notna()]
    tickets.loc[answered[:37], "quality_score"] = np.nan
    tickets.loc[tickets.index[tickets["csat"].isna()][:5], "quality_score"] = np.nan  # already out
    result = key_drivers.key_drivers(TicketData(tickets, simulated.source), n_boot=50)
    unanswered = int(tickets["csat"].isna().sum())
    assert result.ledger.as_dict() == {
        "in": len(tickets), "used": len(answered) - 37,
        "dropped": {"no survey answer": unanswered, "missing quality_score": 37},
    }
    assert result.n == len(answered) - 37


def test_performance_is_on_a_0_to_100_good_scale(simulated, drivers):
    tickets = simulated.tickets
    table = drivers.table.set_index("attribute")
    expected = {
        "response_log2_hours": 100 * (tickets["first_response_minutes"] <= 60).mean(),
        "resolved": 100 * tickets["resolved"].astype(float).mean(),
        "reopened": 100 * (1 - tickets["reopened"].astype(float).mean()),
        "contacts": 100 * (tickets["contacts"] == 1).mean(),
        "quality_score": tickets["quality_score"].astype(float).mean(),
    }
    for attribute, value in expected.items():
        assert table.loc[attribute, "performance"] == pytest.approx(value, abs=1e-9)
    # Respondents over-represent unresolved cases (survey non-response in the documented process).
    assert table.loc["resolved", "performance_respondents"] < table.loc["resolved", "performance"] - 5
    important = table["importance"] > table["importance"].mean()
    performing = table["performance"] > table["performance"].mean()
    expected_quadrant = [key_drivers.QUADRANTS[(i, p)] for i, p in zip(important, performing)]
    assert table["quadrant"].tolist() == expected_quadrant
    assert table.loc["response_log2_hours", "quadrant"] == key_drivers.IMPORTANT_UNDER_PERFORMING == "important, weaker"
    assert table.loc["response_log2_hours", "standardized_coefficient"] < 0


def test_unknown_attributes_are_refused(simulated):
    with pytest.raises(ValueError, match="unknown attribute"):
        key_drivers.key_drivers(simulated, attributes=["resolved", "agent_id"])
