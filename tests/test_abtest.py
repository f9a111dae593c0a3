"""A whole experiment from aggregates: arms x metrics x segments, SRM and balance, power, tables, results."""

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from study.ab import abstats, abtest, aggregate, design, power
from study.ab.cuped import cuped_effect
from study.ab.sufficient import Metric, Moments
from study.core import results
from study.data.io import Source


@pytest.fixture(scope="module")
def units():
    rng = np.random.default_rng(31)
    n = 9000
    arm = rng.choice(["control", "fast", "faster"], n)
    pre = rng.lognormal(3, 0.8, n)
    return pd.DataFrame({
        "customer_id": np.arange(n).astype(str), "variant": arm, "tier": rng.choice(["bronze", "gold"], n),
        "pre_spend": pre, "next_spend": 0.7 * pre + rng.lognormal(2.5, 0.9, n) * np.where(arm == "control", 1, 1.05),
        "orders": 1 + rng.poisson(1.5, n), "repeat_purchase": rng.random(n) < np.where(arm == "faster", 0.33, 0.30),
    })


METRICS = [
    Metric("next_spend", "next_spend", covariate="pre_spend", label="Spend in the follow-up window"),
    Metric("repeat_purchase", "repeat_purchase", "proportion", label="Repeat purchase"),
    Metric("spend_per_order", "next_spend", "ratio", denominator="orders"),
    Metric("pre_spend", "pre_spend"),
]


def test_every_treatment_arm_metric_and_segment_is_compared_with_the_engine(units):
    aggregates = aggregate.aggregate_duckdb(units, METRICS, segments=["tier"])
    effects = abtest.compare_metrics(aggregates)
    assert len(effects) == 2 * 4 * 2
    assert {(e.segment["tier"], e.metric, e.treatment) for e in effects} == {
        (s, m.name, t) for s in ("bronze", "gold") for m in METRICS for t in ("fast", "faster")}
    gold = units[units["tier"] == "gold"]
    c, t = (gold[gold["variant"] == a] for a in ("control", "faster"))
    direct = abstats.proportion_effect(Moments.from_arrays(c["repeat_purchase"]), Moments.from_arrays(t["repeat_purchase"]))
    found = next(e for e in effects if e.segment == {"tier": "gold"} and e.metric == "repeat_purchase" and e.treatment == "faster")
    assert (found.estimate, found.p_value, found.ci_low) == pytest.approx((direct.estimate, direct.p_value, direct.ci_low), rel=1e-9)
    methods = {e.metric: e.method_code for e in effects}
    assert methods == {"next_spend": "cuped_ols_hc1_t", "repeat_purchase": "z_unpooled",
                       "spend_per_order": "delta_ratio_welch_t", "pre_spend": "welch_t"}


def test_pooled_and_continuity_options_reach_the_proportions(units):
    aggregates = aggregate.aggregate_frame(units, METRICS[1:2])
    effect = abtest.compare_metrics(aggregates, pooled=True, continuity=True)[0]
    assert effect.method_code == "z_pooled_cc"


def test_table_shows_adjusted_and_unadjusted_side_by_side_with_adjusted_p(units):
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregate.aggregate_frame(units, METRICS)))
    table = abtest.effects_table(effects)
    assert len(table) == 8 and table["segment"].eq("all").all()
    spend = table[table["method"] == "cuped_ols_hc1_t"].iloc[0]
    assert spend["variance reduction"] > 0.2 and spend["unadjusted estimate"] != spend["estimate"]
    p = [e.p_value for e in effects]
    assert list(table["p (Holm)"]) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert (table["p (BH)"] <= table["p (Holm)"] + 1e-15).all()


def test_srm_from_counts_is_srm_check(units):
    aggregates = aggregate.aggregate_frame(units, METRICS[:1])
    from_counts = design.srm_from_counts(aggregates.unit_counts())
    direct = design.srm_check(units["variant"])
    assert from_counts == direct
    flagged = design.srm_from_counts({"control": 495_000, "treatment": 505_000})
    assert flagged.mismatch and not design.srm_from_counts({"control": 500_300, "treatment": 499_700}).mismatch


def test_balance_from_aggregates_is_the_standardized_mean_difference(units):
    aggregates = aggregate.aggregate_frame(units, [Metric("pre_spend", "pre_spend")])
    table = abtest.balance_table(aggregates, ["pre_spend"])
    two_arms = units[units["variant"].isin(["control", "fast"])]
    direct = design.standardized_mean_differences(two_arms, "variant", "fast", ["pre_spend"])
    assert table.loc[("pre_spend", "fast"), "SMD"] == pytest.approx(direct.loc["pre_spend", "SMD"], rel=1e-9)


def test_power_table_uses_the_adjusted_sd_after_cuped(units):
    aggregates = aggregate.aggregate_frame(units, METRICS[:2])
    table = abtest.power_table(aggregates, relative_mde=0.05)
    c, t = (aggregates.by_arm("next_spend")[a] for a in ("control", "fast"))
    sd = cuped_effect(c, t).adjusted_sd
    row = table[(table["metric"] == "Spend in the follow-up window") & (table["comparison"] == "fast vs control")].iloc[0]
    assert row["MDE (absolute)"] == pytest.approx(power.mde_means(sd, c.n, t.n).difference, rel=1e-9)
    plain = power.sample_size_means(0.05 * c.metric.mean, power.pooled_sd(c.metric, t.metric), ratio=t.n / c.n)
    assert row["units per arm for 5.0% lift (control)"] < plain.units_control
    share = table[table["metric"] == "Repeat purchase"].iloc[0]
    assert share["method"] == "power_z_unpooled"


def test_estimates_go_to_the_results_file(units, tmp_path):
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregate.aggregate_frame(units, METRICS[:2], segments=["tier"])))
    estimates = abtest.estimates(effects)
    payload = results.write_results(tmp_path, "04_ab_test", estimates, Source("units.parquet", "0" * 16, len(units), []),
                                    {"alpha": 0.05}, {"in": len(units), "used": len(units), "dropped": {}})
    written = json.loads((tmp_path / "04_ab_test.json").read_text())
    assert written == payload and len(written["estimates"]) == 2 * 2 * 2 * 2
    first = written["estimates"][0]
    assert first["name"] == "next_spend_effect_fast_vs_control__tier=bronze"
    assert set(first["extra"]) >= {"arms", "method_code", "adjusted_p_values", "segment", "n_by_arm", "unadjusted", "variance_reduction"}
    assert {"holm", "benjamini_hochberg"} <= set(first["extra"]["adjusted_p_values"])
    assert first["ci_low"] < first["value"] < first["ci_high"] and first["n"] == sum(first["extra"]["n_by_arm"].values())
