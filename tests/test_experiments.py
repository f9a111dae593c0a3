"""A/B helpers against scipy/statsmodels called directly, closed forms, and A/A simulations."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from study import experiments


def _two_arms(rng, n_control, n_treatment, mean_control=10.0, mean_treatment=10.0, sd=3.0):
    return pd.DataFrame(
        {
            "variant": ["control"] * n_control + ["treatment"] * n_treatment,
            "spend": np.concatenate(
                [rng.normal(mean_control, sd, n_control), rng.normal(mean_treatment, 1.5 * sd, n_treatment)]
            ),
        }
    )


def test_unclustered_comparison_is_welchs_t_test():
    frame = _two_arms(np.random.default_rng(1), 80, 130, mean_treatment=11.0)
    result = experiments.compare_arms(frame, "spend")
    control, treatment = (frame.loc[frame.variant == arm, "spend"] for arm in ("control", "treatment"))
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    assert result.difference.value == pytest.approx(treatment.mean() - control.mean(), abs=1e-12)
    assert result.difference.p_value == pytest.approx(reference.pvalue, abs=1e-10)
    low, high = reference.confidence_interval(0.95)
    assert (result.difference.ci_low, result.difference.ci_high) == (pytest.approx(low, abs=1e-10), pytest.approx(high, abs=1e-10))


def test_proportions_difference_uses_the_unpooled_variance():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"variant": ["control"] * 4000 + ["treatment"] * 4000,
                          "bought": np.concatenate([rng.random(4000) < 0.30, rng.random(4000) < 0.33]).astype(float)})
    result = experiments.compare_arms(frame, "bought")
    p = frame.groupby("variant")["bought"].mean()
    n = frame.groupby("variant")["bought"].count()
    # Welch on 0/1 data: p(1-p)/(n-1) per arm.
    unpooled_se = np.sqrt(p["treatment"] * (1 - p["treatment"]) / (n["treatment"] - 1) + p["control"] * (1 - p["control"]) / (n["control"] - 1))
    assert result.difference.se == pytest.approx(unpooled_se, rel=1e-10)
    # Agrees closely with statsmodels' pooled z-test at this size (different convention, same conclusion).
    pooled_p = proportions_ztest(frame.groupby("variant")["bought"].sum()[["treatment", "control"]], n[["treatment", "control"]])[1]
    assert result.difference.p_value == pytest.approx(pooled_p, rel=0.02)


def test_lift_interval_is_the_delta_method_on_the_log_ratio():
    frame = _two_arms(np.random.default_rng(4), 500, 700, mean_treatment=10.8)
    lift = experiments.compare_arms(frame, "spend").lift
    control, treatment = (frame.loc[frame.variant == arm, "spend"] for arm in ("control", "treatment"))
    log_ratio = np.log(treatment.mean() / control.mean())
    log_se = np.sqrt(
        treatment.var() / len(treatment) / treatment.mean() ** 2 + control.var() / len(control) / control.mean() ** 2
    )
    crit = stats.t.ppf(0.975, stats.ttest_ind(treatment, control, equal_var=False).df)
    assert lift.value == pytest.approx(np.expm1(log_ratio), abs=1e-12)
    assert lift.ci_low == pytest.approx(np.expm1(log_ratio - crit * log_se), abs=1e-10)
    assert lift.ci_high == pytest.approx(np.expm1(log_ratio + crit * log_se), abs=1e-10)


def test_clustered_comparison_matches_the_cr1_sandwich():
    rng = np.random.default_rng(5)
    customers = 300
    arm = np.where(rng.random(customers) < 0.5, "treatment", "control")
    per_customer = 1 + rng.poisson(1.0, customers)
    owner = np.repeat(np.arange(customers), per_customer)
    y = rng.normal(size=customers)[owner] + rng.normal(size=owner.size)
    frame = pd.DataFrame({"variant": arm[owner], "y": y, "customer_id": owner})
    result = experiments.compare_arms(frame, "y", cluster="customer_id")

    treated = (arm[owner] == "treatment").astype(float)
    design = np.column_stack([np.ones_like(y), treated])
    bread = np.linalg.inv(design.T @ design)
    residual = y - design @ (bread @ design.T @ y)
    meat = sum(np.outer(s, s) for s in (design[owner == g].T @ residual[owner == g] for g in range(customers)))
    n, k, g = owner.size, 2, customers
    se = np.sqrt((g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread)[1, 1])
    assert result.difference.se == pytest.approx(se, rel=1e-10)


def test_srm_flags_a_505_495_split_at_one_million():
    units = pd.Series(["treatment"] * 505_000 + ["control"] * 495_000)
    check = experiments.srm_check(units, {"control": 0.5, "treatment": 0.5})
    assert check.mismatch and check.p_value < 1e-20
    assert check.chi2 == pytest.approx((5_000**2 / 500_000) * 2)


def test_srm_passes_a_fair_split_and_honours_a_planned_unequal_one():
    rng = np.random.default_rng(6)
    fair = pd.Series(np.where(rng.random(1_000_000) < 0.5, "treatment", "control"))
    assert not experiments.srm_check(fair).mismatch
    planned = pd.Series(np.where(rng.random(100_000) < 0.2, "treatment", "control"))
    assert not experiments.srm_check(planned, {"control": 0.8, "treatment": 0.2}).mismatch
    assert experiments.srm_check(planned, {"control": 0.5, "treatment": 0.5}).mismatch


def test_standardized_mean_difference_is_difference_over_pooled_sd():
    units = pd.DataFrame({"variant": ["control"] * 3 + ["treatment"] * 3, "tenure": [1.0, 2, 3, 2, 3, 4], "tier": list("aabbab")})
    table = experiments.standardized_mean_differences(units, "variant", "treatment", ["tenure", "tier"])
    assert table.loc["tenure", "SMD"] == pytest.approx(1.0)
    assert set(table.index) == {"tenure", "tier=a", "tier=b"}


def test_units_in_several_arms_are_set_aside_and_counted():
    tickets = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "d"],
                            "variant": ["control", "treatment", "control", "treatment", "treatment", None]})
    experiment = experiments.experiment_rows(tickets)
    assert experiment.units_in_several_arms == 1
    assert experiment.ledger.as_dict() == {"in": 6, "used": 3, "dropped": {"no variant": 1, "customer_id seen in several arms": 2}}
    assert sorted(experiment.units["customer_id"]) == ["b", "c"]


def test_aa_clustered_comparisons_reject_at_the_nominal_rate():
    """1,000 A/A experiments with clustered rows: the 5% test rejects 5% ± 3 binomial SEs (±2.1 pp)."""
    rng = np.random.default_rng(7)
    runs, rejections = 1_000, 0
    customers = 200
    for _ in range(runs):
        arm = np.where(rng.random(customers) < 0.5, "treatment", "control")
        owner = np.repeat(np.arange(customers), 1 + rng.poisson(1.0, customers))
        y = rng.normal(size=customers)[owner] + rng.normal(size=owner.size)
        frame = pd.DataFrame({"variant": arm[owner], "y": y, "customer_id": owner})
        rejections += experiments.compare_arms(frame, "y", cluster="customer_id").difference.p_value < 0.05
    assert abs(rejections / runs - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / runs), rejections / runs


def test_lift_interval_covers_the_true_lift_at_the_nominal_rate():
    """1,000 experiments with a true lift of +5%: the 95% lift interval covers it 95% ± 3 SEs."""
    rng = np.random.default_rng(8)
    runs, covered = 1_000, 0
    for _ in range(runs):
        frame = _two_arms(rng, 400, 400, mean_control=20.0, mean_treatment=21.0, sd=6.0)
        lift = experiments.compare_arms(frame, "spend").lift
        covered += lift.ci_low <= 0.05 <= lift.ci_high
    assert abs(covered / runs - 0.95) <= 3 * np.sqrt(0.05 * 0.95 / runs), covered / runs


def test_balance_with_one_unit_in_an_arm_is_undefined_not_perfect():
    units = pd.DataFrame({"variant": ["control", "control", "treatment"], "pre_spend": [80.0, 81.0, 25.0]})
    smd = experiments.standardized_mean_differences(units, "variant", "treatment", ["pre_spend"]).loc["pre_spend", "SMD"]
    assert np.isnan(smd)


def test_units_in_an_unplanned_arm_are_refused():
    with pytest.raises(ValueError, match="arms the plan does not have: holdout"):
        experiments.srm_check(pd.Series(["control", "treatment", "holdout"]), {"control": 0.5, "treatment": 0.5})


def test_customer_with_unknown_spend_has_unknown_spend_not_zero():
    rows = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"], "variant": ["control", "control", "treatment", "treatment"],
        "csat": pd.array([5, None, 3, 4], dtype="Int64"), "repeat_purchase": [True, False, True, False],
        "response_log2_hours": [0.0, 1.0, 2.0, -1.0], "next_spend": [10.0, None, 5.0, 0.0], "pre_spend": [None, 7.0, 1.0, 2.0],
    })
    customers = experiments.customer_table(rows).set_index("customer_id")
    assert np.isnan(customers.loc["a", "next_spend"]) and customers.loc["b", "next_spend"] == 5.0
    assert customers.loc["a", "pre_spend"] == 7.0  # first known value, whatever the row order
    assert customers.loc["a", "tickets"] == 2 and customers.loc["a", "surveys"] == 1
    assert "customer_spend" not in [m.name for m in experiments.sla_unit_metrics(customers.reset_index())]
