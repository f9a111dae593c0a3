"""Agreement with a peer engine: tea-tasting's numbers on seeded data, recorded in a fixture.

The fixture is written by benchmarks/peer/tea_tasting_cases.py in a separate environment
(tea-tasting is not a dependency of this project); it holds the data, tea-tasting's results and
the conventions. Where both engines use the same formula the tolerance is 1e-9 relative: the two
differ only by floating-point order of operations. Where conventions differ the case says so and
compares only what is defined alike, or (CUPED by regression) uses a tolerance derived below.
Pooled-theta CUPED, for means and ratio metrics, and the one-sided tests use tea-tasting's formulas:
1e-9 there too.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from study.ab import abstats, cuped, cuped_pooled, power, robust
from study.ab.sufficient import (
    CovariateMoments,
    Moments,
    RatioCovariateMoments,
    RatioMoments,
    rounded_origin,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "peer_tea_tasting.json").read_text())
SAME_FORMULA = 1e-9
OURS = {  # tea-tasting field -> Effect attribute
    "control": "control_value", "treatment": "treatment_value", "effect_size": "estimate",
    "effect_size_ci_lower": "ci_low", "effect_size_ci_upper": "ci_high", "rel_effect_size": "lift",
    "rel_effect_size_ci_lower": "lift_ci_low", "rel_effect_size_ci_upper": "lift_ci_high", "pvalue": "p_value",
}


def _data(name):
    return pd.DataFrame(FIXTURE["data"][name])


def _arms(frame):
    return [frame[frame["variant"] == FIXTURE["arms"][arm]] for arm in ("control", "treatment")]


def _case(name):
    return next(c for c in FIXTURE["cases"] if c["case"] == name)


def _effect(case):
    spec = case["study"]
    data = _data(case["data"])
    control, treatment = _arms(data)
    column, sides = spec["column"], {"alternative": spec.get("alternative", "two-sided")}
    if spec["kind"] == "ratio":
        pair = [RatioMoments.from_arrays(a[column], a[spec["denominator"]]) for a in (control, treatment)]
        return abstats.ratio_effect(*pair, reference=spec["reference"], **sides)
    if spec["kind"] == "proportion":
        pair = [Moments.from_arrays(a[column]) for a in (control, treatment)]
        return abstats.proportion_effect(*pair, pooled=spec["pooled"], continuity=spec["continuity"], **sides)
    if spec["kind"] == "mann_whitney":
        return robust.mann_whitney_effect(control[column], treatment[column])
    if spec["kind"] == "cuped_pooled":
        origin = (rounded_origin(data[spec["covariate"]].mean()), rounded_origin(data[column].mean()))
        pair = [CovariateMoments.from_arrays(a[spec["covariate"]], a[column], origin=origin) for a in (control, treatment)]
        return cuped_pooled.pooled_cuped_effect(*pair, reference=spec["reference"], **sides).adjusted
    if spec["kind"] == "cuped_ratio":
        columns = [column, spec["denominator"], spec["covariate"], spec["covariate_denominator"]]
        pair = [RatioCovariateMoments.from_arrays(*(a[c] for c in columns)) for a in (control, treatment)]
        return cuped_pooled.ratio_cuped_effect(*pair, reference=spec["reference"], **sides).adjusted
    return abstats.mean_effect(*(Moments.from_arrays(a[column]) for a in (control, treatment)), reference=spec["reference"],
                               **sides)


EFFECT_CASES = [c["case"] for c in FIXTURE["cases"] if c["study"]["kind"] in (
    "mean", "ratio", "proportion", "mann_whitney", "cuped_pooled", "cuped_ratio") and not (
    c["study"]["kind"] == "mean" and "covariate" in c["study"])]


def test_the_fixture_holds_at_least_ten_cases_from_the_peer():
    assert FIXTURE["peer"] == "tea-tasting" and FIXTURE["peer_version"].startswith("1.")
    assert len(FIXTURE["cases"]) >= 10 and all(c["convention"] for c in FIXTURE["cases"])


@pytest.mark.parametrize("name", EFFECT_CASES)
def test_same_formula_cases_agree_to_1e9(name):
    case = _case(name)
    effect = _effect(case)
    for field in case["compare"]:
        ours = effect.estimate if (case["study"]["kind"] == "mann_whitney" and field == "treatment") else getattr(effect, OURS[field])
        assert ours == pytest.approx(case["tea_tasting"][field], rel=SAME_FORMULA, abs=1e-15), field


def test_new_cases_are_all_compared():
    """Pooled CUPED (means and ratios, t and z, 60 and 120 units) and both one-sided alternatives of every kind."""
    kinds = {(c["study"]["kind"], c["study"].get("alternative", "two-sided")) for c in FIXTURE["cases"] if c["case"] in EFFECT_CASES}
    for kind in ("mean", "ratio", "proportion", "cuped_pooled", "cuped_ratio"):
        assert {(kind, "greater"), (kind, "less")} <= kinds, kind
    assert sum(c["study"]["kind"].startswith("cuped_") for c in FIXTURE["cases"]) >= 10


def test_one_sided_cases_have_an_open_bound_and_the_peer_p_values_are_informative():
    """The compared fields include the finite bound on the tested side; the open side is infinite (or the
    difference's limit for proportions), and the peer's p-values span both small and large values."""
    cases = [c for c in FIXTURE["cases"] if c["case"] in EFFECT_CASES and c["study"].get("alternative", "two-sided") != "two-sided"]
    for case in cases:
        effect = _effect(case)
        open_bound = effect.ci_high if case["study"]["alternative"] == "greater" else effect.ci_low
        limit = 1.0 if case["study"]["kind"] == "proportion" else math.inf
        assert abs(open_bound) == limit, case["case"]
    p_values = [c["tea_tasting"]["pvalue"] for c in cases]
    assert min(p_values) < 0.01 and max(p_values) > 0.99


def test_pooled_cuped_agrees_with_the_regression_form_within_the_difference_of_conventions():
    """The recorded pooled case and study's regression form on the same data: the estimates differ by
    (theta_ols - theta_pooled) * (difference in covariate means), a small fraction of a standard error."""
    peer = _case("cuped_pooled_mean_t")
    assert peer["tea_tasting"] == _case("cuped_mean")["tea_tasting"]
    ours = _effect(peer)
    assert abs(ours.estimate - _effect_ols()) < 0.01 * ours.se


def _effect_ols() -> float:
    control, treatment = _arms(_data("large"))
    both = pd.concat([control, treatment])
    origin = (rounded_origin(both["pre_spend"].mean()), rounded_origin(both["spend"].mean()))
    pair = [CovariateMoments.from_arrays(a["pre_spend"], a["spend"], origin=origin) for a in (control, treatment)]
    return cuped.cuped_effect(*pair).adjusted.estimate


def test_ratio_cuped_reduces_the_variance_of_the_csat_ratio():
    adjusted = _effect(_case("cuped_ratio_csat_t"))
    unadjusted = _case("ratio_csat_unadjusted")["tea_tasting"]
    assert adjusted.extra["unadjusted"]["estimate"] == pytest.approx(unadjusted["effect_size"], rel=SAME_FORMULA)
    assert adjusted.extra["unadjusted"]["p_value"] == pytest.approx(unadjusted["pvalue"], rel=SAME_FORMULA)
    assert 0.2 < adjusted.extra["variance_reduction"] < 0.9


def test_the_pitfalls_example_gives_the_stated_p_values():
    assert _effect(_case("proportion_19_53_vs_13_47_pooled_cc")).p_value == pytest.approx(0.508, abs=5e-4)
    assert _effect(_case("proportion_19_53_vs_13_47_unpooled")).p_value == pytest.approx(0.377, abs=5e-4)


def test_cuped_agrees_within_the_difference_of_conventions():
    """tea-tasting's theta includes the between-arm difference and treats theta as known; ours is the
    regression's within-arm slope with the HC1 sandwich. The estimates differ by
    (theta_ours - theta_peer) * (mean x_t - mean x_c), and theta_peer - theta_ours is of order
    (difference in arm means)**2 / total variance, i.e. O(1/n): the gap is a small fraction of a
    standard error. The SEs differ by O(1/n) relatively (HC1's n/(n-3), theta's estimation error)."""
    case = _case("cuped_mean")
    control, treatment = _arms(_data(case["data"]))
    both = pd.concat([control, treatment])
    origin = (rounded_origin(both["pre_spend"].mean()), rounded_origin(both["spend"].mean()))
    pair = [CovariateMoments.from_arrays(a["pre_spend"], a["spend"], origin=origin) for a in (control, treatment)]
    effect = cuped.cuped_effect(*pair).adjusted
    peer = case["tea_tasting"]
    n = effect.n_control + effect.n_treatment
    se = effect.se
    assert abs(effect.estimate - peer["effect_size"]) < 0.01 * se
    peer_se = peer["effect_size"] / peer["statistic"]
    assert abs(se / peer_se - 1) < 10 / n
    assert effect.p_value == pytest.approx(peer["pvalue"], rel=0.05)


@pytest.mark.parametrize("name", [c["case"] for c in FIXTURE["cases"] if c["study"]["kind"] == "power"])
def test_power_cases_agree(name):
    """tea-tasting's n_obs is the total over both arms, rounded up; its variance is that of all units together."""
    case = _case(name)
    spec, peer = case["study"], case["tea_tasting"]
    values = Moments.from_arrays(_data(case["data"])[spec["column"]])
    sd, ratio = math.sqrt(values.var), spec.get("ratio", 1)
    if spec["solve"] == "n_obs":
        plan = power.sample_size_means(spec["rel_effect_size"] * values.mean, sd, ratio=ratio, test=spec["test"])
        assert math.ceil(plan.n_control + plan.n_treatment) == peer["n_obs"]
    elif spec["solve"] == "effect_size":
        n_control = spec["n_obs"] / (1 + ratio)
        plan = power.mde_means(sd, n_control, ratio * n_control, test=spec["test"])
        assert plan.difference == pytest.approx(peer["effect_size"], rel=1e-7)  # both solve by root-finding
    else:
        half = spec["n_obs"] / 2
        assert power.power_means(spec["effect_size"], sd, half, half, test=spec["test"]) == pytest.approx(peer["power"], rel=SAME_FORMULA)


def test_multiple_testing_agrees_with_the_peer():
    case = _case("multiplicity")
    p = case["study"]["p_values"]
    assert multipletests(p, method="fdr_bh")[1] == pytest.approx(np.array(case["tea_tasting"]["benjamini_hochberg"]), rel=SAME_FORMULA)
    assert multipletests(p, method="holm")[1] == pytest.approx(np.array(case["tea_tasting"]["holm"]), rel=SAME_FORMULA)
