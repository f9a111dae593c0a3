"""A/B helpers against scipy/statsmodels called directly, closed forms, and A/A simulations."""

import numpy as np
import pandas as pd
import pytest

from study.ab import design, sla
from study.ab.abstats import ratio_effect
from study.ab.customers import _sums, customer_table, sorted_codes
from study.ab.sufficient import RatioMoments
from study.data import experiment as experiments


def test_srm_flags_a_505_495_split_at_one_million():
    units = pd.Series(["treatment"] * 505_000 + ["control"] * 495_000)
    check = design.srm_check(units, {"control": 0.5, "treatment": 0.5})
    assert check.mismatch and check.p_value < 1e-20
    assert check.chi2 == pytest.approx((5_000**2 / 500_000) * 2)


def test_srm_passes_a_fair_split_and_honours_a_planned_unequal_one():
    rng = np.random.default_rng(6)
    fair = pd.Series(np.where(rng.random(1_000_000) < 0.5, "treatment", "control"))
    assert not design.srm_check(fair).mismatch
    planned = pd.Series(np.where(rng.random(100_000) < 0.2, "treatment", "control"))
    assert not design.srm_check(planned, {"control": 0.8, "treatment": 0.2}).mismatch
    assert design.srm_check(planned, {"control": 0.5, "treatment": 0.5}).mismatch


def test_standardized_mean_difference_is_difference_over_pooled_sd():
    units = pd.DataFrame({"variant": ["control"] * 3 + ["treatment"] * 3, "tenure": [1.0, 2, 3, 2, 3, 4], "tier": list("aabbab")})
    table = design.standardized_mean_differences(units, "variant", "treatment", ["tenure", "tier"])
    assert table.loc["tenure", "SMD"] == pytest.approx(1.0)
    assert set(table.index) == {"tenure", "tier=a", "tier=b"}


def test_units_in_several_arms_are_set_aside_and_counted():
    tickets = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "d"],
                            "variant": ["control", "treatment", "control", "treatment", "treatment", None]})
    experiment = experiments.experiment_rows(tickets)
    assert experiment.units_in_several_arms == 1
    assert experiment.ledger.as_dict() == {"in": 6, "used": 3, "dropped": {"no variant": 1, "customer_id seen in several arms": 2}}
    assert sorted(experiment.units["customer_id"]) == ["b", "c"]


def test_balance_with_one_unit_in_an_arm_is_undefined_not_perfect():
    units = pd.DataFrame({"variant": ["control", "control", "treatment"], "pre_spend": [80.0, 81.0, 25.0]})
    smd = design.standardized_mean_differences(units, "variant", "treatment", ["pre_spend"]).loc["pre_spend", "SMD"]
    assert np.isnan(smd)


def test_units_in_an_unplanned_arm_are_refused():
    with pytest.raises(ValueError, match="arms the plan does not have: holdout"):
        design.srm_check(pd.Series(["control", "treatment", "holdout"]), {"control": 0.5, "treatment": 0.5})


def test_customer_with_unknown_spend_has_unknown_spend_not_zero():
    rows = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"], "variant": ["control", "control", "treatment", "treatment"],
        "csat": pd.array([5, None, 3, 4], dtype="Int64"), "repeat_purchase": [True, False, True, False],
        "response_log2_hours": [0.0, 1.0, 2.0, -1.0], "next_spend": [10.0, None, 5.0, 0.0], "pre_spend": [None, 7.0, 1.0, 2.0],
    })
    customers = customer_table(rows).set_index("customer_id")
    assert np.isnan(customers.loc["a", "next_spend"]) and customers.loc["b", "next_spend"] == 5.0
    assert customers.loc["a", "pre_spend"] == 7.0  # first known value, whatever the row order
    assert customers.loc["a", "tickets"] == 2 and customers.loc["a", "surveys"] == 1
    assert "customer_spend" not in [m.name for m in sla.sla_unit_metrics(customers.reset_index())]


def _clustered_tickets(rng, customers=400):
    arm = np.where(rng.random(customers) < 0.5, "treatment", "control")
    arm[:7] = "holdout"  # rows of another arm are left out
    owner = np.repeat(np.arange(customers), 1 + rng.poisson(1.5, customers))
    rng.shuffle(owner)
    y = 3.0 + 0.2 * (arm[owner] == "treatment") + rng.normal(size=customers)[owner] + rng.exponential(size=owner.size)
    y[rng.random(owner.size) < 0.1] = np.nan  # rows without the metric are left out
    return pd.DataFrame({"variant": arm[owner], "y": y, "customer_id": [f"C{c:05d}" for c in owner]})


def _reference_customer_table(rows, unit="customer_id", arm="variant"):
    """customer_table as a plain pandas groupby on the text keys."""
    frame = pd.DataFrame({
        unit: rows[unit].to_numpy(), arm: rows[arm].to_numpy(), "tickets": 1.0,
        "surveys": rows["csat"].notna().to_numpy(dtype=float),
        "csat_sum": rows["csat"].astype(float).fillna(0.0).to_numpy(),
        "repeat_sum": rows["repeat_purchase"].astype(float).to_numpy(),
        "log2_hours_sum": rows["response_log2_hours"].to_numpy(dtype=float),
        "next_spend": rows["next_spend"].astype(float).to_numpy(),
    })
    sums = frame.groupby([unit, arm], sort=True).sum(min_count=1).reset_index()
    unknown = frame["next_spend"].isna().groupby(frame[unit]).any()
    sums.loc[sums[unit].map(unknown).to_numpy(), "next_spend"] = np.nan
    covariates = [c for c in sla.PRE_PERIOD_COVARIATES if c in rows.columns]
    out = sums.join(rows.groupby(unit, sort=True)[covariates].first(), on=unit)
    ordered = rows.sort_values("created_at", kind="stable")
    out = out.join(ordered.groupby(unit, sort=True)["channel"].first().rename("first_channel"), on=unit)
    out["repeat_rate"] = out["repeat_sum"] / out["tickets"]
    return out


def _assert_same_table(customers, expected):
    """Equal up to rounding in the last bits of sums (summation order); keys compared as text."""
    assert list(customers.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(customers, expected, check_dtype=False, check_exact=False, rtol=1e-12, atol=0)
    for column in customers.columns.drop(["customer_id", "variant"]):
        assert customers[column].dtype == expected[column].dtype, column


def _messy_tickets(unit_dtype="string"):
    created = pd.to_datetime([
        "2026-01-05", "2026-01-02", "2026-01-03", None, "2026-01-01", "2026-01-02",
        "2026-01-01", "2026-01-02", "2026-01-09", "2026-01-01", "2026-01-07", "2026-01-06",
    ])
    return pd.DataFrame({
        # "d" (rows 0, 4, 6, 10): its first two tickets by time are rows 4 and 6, at the same time; "b" has
        # a ticket without a time (sorted last) and one without a channel; "e" has one ticket.
        "customer_id": pd.array(["d", "b", "a", "b", "d", "c", "d", "a", "c", "e", "d", "b"], dtype=unit_dtype),
        "variant": pd.array(["treatment", "control", "treatment", "control", "treatment", "control",
                             "treatment", "treatment", "control", "control", "treatment", "control"], dtype="string"),
        "created_at": created,
        "channel": pd.array(["email", None, "chat", "phone", "chat", "email", "phone", "email", "chat", "phone", "chat", "chat"],
                            dtype="string"),
        "csat": pd.array([5, None, 3, 4, None, None, 2, 1, None, None, 4, 5], dtype="Int64"),
        "repeat_purchase": pd.array([True, False, None, True, None, False, True, None, True, None, False, True], dtype="boolean"),
        "response_log2_hours": [0.1, -1.0, np.nan, 2.5, 1.0 / 3, 0.7, 1e-3, np.nan, 0.25, np.nan, 7.0, -0.5],
        # "a" and "d": some spend unknown, so their spend is unknown; "e": all unknown.
        "next_spend": [10.0, 0.0, 1.5, 2.25, np.nan, 3.0, 0.1, np.nan, 4.0, np.nan, 0.2, 0.3],
        "pre_spend": [np.nan, 7.0, np.nan, 9.0, 5.0, 1.0, 6.0, 2.0, 8.0, np.nan, 1.0, 3.0],
        "prior_orders": pd.array([None, 1, 2, 3, 4, None, 5, 6, 7, None, 8, None], dtype="Int64"),
        "loyalty_tier": pd.array([None, "gold", None, "silver", "bronze", "gold", None, "silver", "gold", None, "gold", None],
                                 dtype="string"),
        "tenure_days": np.arange(12.0),
    })


@pytest.mark.parametrize("unit_dtype", ["string", "str", object])
def test_customer_table_matches_a_pandas_groupby(unit_dtype):
    rows = _messy_tickets(unit_dtype)
    customers = customer_table(rows)
    _assert_same_table(customers, _reference_customer_table(rows))
    # A ticket without a customer or an arm belongs to no customer row (a groupby leaves it out).
    unowned = rows.assign(customer_id=rows.customer_id.where(rows.index != 11), variant=rows.variant.where(rows.index != 9))
    _assert_same_table(customer_table(unowned), _reference_customer_table(unowned))
    by_customer = customers.set_index("customer_id")
    assert list(by_customer.index) == ["a", "b", "c", "d", "e"]
    assert by_customer["next_spend"].isna().tolist() == [True, False, False, True, True]
    assert by_customer.loc["d", "first_channel"] == "chat"  # row 4: earliest, and first of its tie
    assert by_customer.loc["b", "first_channel"] == "chat"  # its NaT ticket sorts last; the missing channel is skipped
    assert by_customer.loc["a", "pre_spend"] == 2.0 and pd.isna(by_customer.loc["e", "prior_orders"])
    assert np.isnan(by_customer.loc["e", "repeat_sum"]) and by_customer.loc["e", "tickets"] == 1


@pytest.mark.parametrize("unit_dtype", ["string", "str", object])
def test_the_experiment_rows_codes_give_the_customer_table_of_the_rows(unit_dtype):
    """The codes experiment_rows hands on (unsorted, missing with a code of its own, mixed units without rows)
    must give the table factorizing the rows again gives."""
    tickets = _messy_tickets(unit_dtype)
    # A missing customer, and "c" seen in both arms (set aside): both leave codes with no row behind.
    tickets = tickets.assign(customer_id=tickets.customer_id.where(tickets.index != 11))
    of_c = (tickets.customer_id == "c").fillna(False).to_numpy(dtype=bool)
    tickets.loc[of_c, "variant"] = np.resize(["control", "treatment"], of_c.sum())
    experiment = experiments.experiment_rows(tickets.iloc[::-1])
    assert experiment.units_in_several_arms == 1
    with_codes = customer_table(experiment.rows, unit_codes=experiment.unit_codes)
    _assert_same_table(with_codes, customer_table(experiment.rows))
    _assert_same_table(with_codes, _reference_customer_table(experiment.rows))


def test_sorted_codes_number_as_a_sorted_factorization():
    values = pd.Series(["m", None, "b", "z", "b", None, "a", "m"], dtype="string")
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    renumbered, sorted_values = sorted_codes(codes, uniques)
    expected_codes, expected_values = pd.factorize(values, sort=True)
    assert renumbered.tolist() == expected_codes.tolist() == [2, -1, 1, 3, 1, -1, 0, 2]
    assert list(sorted_values) == list(expected_values) == ["a", "b", "m", "z"]


def test_customer_table_on_a_simulation_matches_a_pandas_groupby(small_data):
    rows = experiments.experiment_rows(small_data.tickets).rows
    _assert_same_table(customer_table(rows), _reference_customer_table(rows))


def test_customer_table_of_shuffled_tickets_takes_first_values_in_time_and_row_order(small_data):
    rows = experiments.experiment_rows(small_data.tickets).rows
    shuffled = rows.sample(frac=1.0, random_state=3)
    _assert_same_table(customer_table(shuffled), _reference_customer_table(shuffled))
    assert len(customer_table(rows.iloc[:0])) == 0


def test_experiment_rows_match_a_pandas_groupby():
    tickets = pd.DataFrame({
        "customer_id": pd.array(["c", "a", None, "b", "a", "c", "d", None, "b", "e", "c"], dtype="string"),
        "variant": pd.array(["control", "control", "treatment", "holdout", "treatment", "control",
                             None, "control", "treatment", "treatment", "control"], dtype="string"),
        "pre_spend": np.arange(11.0),
    }, index=np.arange(100, 111))
    experiment = experiments.experiment_rows(tickets, unit_columns=["pre_spend"])

    rows = tickets[tickets.variant.isin(["control", "treatment"]).fillna(False)]
    arms_per_unit = rows.groupby("customer_id")["variant"].nunique()
    rows = rows[~rows.customer_id.isin(arms_per_unit.index[arms_per_unit > 1])]
    pd.testing.assert_frame_equal(experiment.rows, rows)
    expected_units = rows.drop_duplicates("customer_id")[["customer_id", "variant", "pre_spend"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(experiment.units, expected_units)
    assert experiment.units_in_several_arms == 1  # "a"; the missing customer is no customer
    assert experiment.ledger.as_dict() == {"in": 11, "used": 7, "dropped": {
        "no variant": 1, "variant not one of control, treatment": 1, "customer_id seen in several arms": 2}}


def test_sums_are_pandas_group_sums():
    """Missing values skipped, a group without a value missing (min_count=1), infinities kept."""
    rng = np.random.default_rng(14)
    group = rng.integers(0, 500, 20_000)
    values = rng.lognormal(0, 3, group.size) * rng.choice([-1, 1], group.size)
    values[rng.random(group.size) < 0.1] = np.nan
    values[[5, 17]], group[[5, 17]] = [np.inf, 0.1], 3
    values[group == 7] = np.nan
    columns = {"values": values, "complete": np.nan_to_num(values, nan=0.5, posinf=1.0)}
    expected = pd.DataFrame(columns).groupby(group).sum(min_count=1).reindex(range(501))  # group 500: no rows
    for name, column in columns.items():
        np.testing.assert_allclose(_sums(group, column, 501), expected[name].to_numpy(), rtol=1e-12, err_msg=name)


def _customer_sums(rng, customers=300, effect=0.2):
    """Tickets of customers randomized as units: per customer, the sum of a ticket metric and the ticket count."""
    arm = np.where(rng.random(customers) < 0.5, "treatment", "control")
    owner = np.repeat(np.arange(customers), 1 + rng.poisson(1.5, customers))
    y = 3.0 + effect * (arm[owner] == "treatment") + rng.normal(size=customers)[owner] + rng.exponential(size=owner.size)
    return arm, owner, y, np.bincount(owner, weights=y), np.bincount(owner).astype(float)


def _ratio_effect(arm, num, den, alpha=0.05):
    control, treatment = arm == "control", arm == "treatment"
    return ratio_effect(RatioMoments.from_arrays(num[control], den[control]),
                        RatioMoments.from_arrays(num[treatment], den[treatment]), alpha=alpha)


@pytest.mark.parametrize("seed", [11, 12])
def test_the_sla_engine_is_the_ticket_level_difference_with_customer_clustered_errors(seed):
    """The customer-level ratio of sums is the ticket-level difference in means (statsmodels OLS), and its
    delta-method variance is the cluster sandwich with each arm's n/(n-1) in place of CR1's overall factor."""
    import statsmodels.api as sm

    arm, owner, y, num, den = _customer_sums(np.random.default_rng(seed))
    effect = _ratio_effect(arm, num, den)
    treated = (arm[owner] == "treatment").astype(float)
    fit = sm.OLS(y, np.column_stack([np.ones(y.size), treated])).fit(cov_type="cluster", cov_kwds={"groups": owner})
    assert effect.estimate == pytest.approx(fit.params[1], rel=1e-10)
    variance = 0.0
    for name in ("control", "treatment"):
        members = arm == name
        residual = y - np.where(treated == 1, fit.params.sum(), fit.params[0])
        scores = np.bincount(owner, weights=residual)[members]
        n = int(members.sum())
        variance += n / (n - 1) * (scores ** 2).sum() / den[members].sum() ** 2
    assert effect.se == pytest.approx(np.sqrt(variance), rel=1e-10)
    # Against statsmodels' CR1 the two small-sample factors differ by O(1/customers).
    assert effect.se == pytest.approx(fit.bse[1], rel=3 / len(arm))


def test_aa_customer_level_comparisons_of_ticket_metrics_reject_at_the_nominal_rate():
    """1,000 A/A experiments with several tickets per customer: the 5% test rejects 5% ± 3 binomial SEs (±2.1 pp)."""
    rng = np.random.default_rng(7)
    runs = 1_000
    rejections = sum(_ratio_effect(arm, num, den).p_value < 0.05
                     for arm, _, _, num, den in (_customer_sums(rng, customers=200, effect=0.0) for _ in range(runs)))
    assert abs(rejections / runs - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / runs), rejections / runs


def test_the_customer_level_lift_interval_covers_the_true_lift_at_the_nominal_rate():
    """1,000 experiments with a true effect of +0.2 on a mean of 4 (lift +5%): the 95% interval covers it 95% ± 3 SEs."""
    rng = np.random.default_rng(8)
    runs, covered = 1_000, 0
    for _ in range(runs):
        arm, _, _, num, den = _customer_sums(rng, customers=400)
        effect = _ratio_effect(arm, num, den)
        covered += effect.lift_ci_low <= 0.05 <= effect.lift_ci_high
    assert abs(covered / runs - 0.95) <= 3 * np.sqrt(0.05 * 0.95 / runs), covered / runs
