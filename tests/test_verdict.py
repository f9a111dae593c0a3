"""The experiment verdict: every rule of study.report.verdict.verdict, and the decision simulated.

Each rule has a case built so that breaking the rule flips the decision. The simulations draw the
estimates an experiment with these true effects produces (arms sharing one control, as in the
engine) and count how often the verdict says "ship"; the tolerance is the Monte-Carlo error of that
rate, and each simulation also runs the rule it guards against, to show it can fail.
"""

import math

import numpy as np
import pytest
from scipy import stats

from study.ab import abstats, abtest, roles
from study.ab.sufficient import Moments
from study.core.words import PP
from study.report import summary, verdict
from study.report.verdict import DONT_SHIP, INCONCLUSIVE, SHIP

Z = stats.norm.ppf(0.975)


def effect(metric, value, se, treatment="treatment", role=None, better="higher", margin=None, p=None, values=None):
    """An engine effect as the results file holds it, p and interval from value and se; spend is money,
    the other metrics are rates."""
    values = values or ((6.0, 5.5) if metric == "spend" else (0.4, 0.42))
    extra = {"metric": metric, "arms": {"control": "control", "treatment": treatment},
             "value_by_arm": {"control": values[0], treatment: values[1]}, "segment": {}}
    if role:
        extra.update(role=role, better=better, margin=margin)
    return {"name": f"{metric}_effect_{treatment}_vs_control", "label": metric, "value": value, "se": se,
            "ci_low": value - Z * se, "ci_high": value + Z * se, "n": 10_000, "method": "test", "ci_level": 0.95,
            "p_value": float(2 * stats.norm.sf(abs(value) / se)) if p is None else p, "extra": extra}


def payload(*effects, srm_p=0.5):
    srm = {"name": "sample_ratio_chi2", "value": 0.1, "se": None, "ci_low": None, "ci_high": None, "p_value": srm_p,
           "n": 10_000, "method": "chi2", "ci_level": 0.999, "extra": {"mismatch": srm_p < 0.001}}
    return {"analysis": "05_experiment_table", "parameters": {"srm_alpha": 0.001}, "estimates": [srm, *effects]}


def decide(*effects, srm_p=0.5):
    return verdict.experiment_verdicts(payload(*effects, srm_p=srm_p), None)


# --- the rules, one case each --------------------------------------------------------------------

def test_a_lower_is_better_primary_that_rises_significantly_is_never_shipped():
    [v] = decide(effect("churn_7", 0.02, 0.005, role="primary", better="lower"))
    assert v.decision == DONT_SHIP and "lower is better" in v.reason and "got worse" in v.reason
    [v] = decide(effect("churn_7", -0.02, 0.005, role="primary", better="lower"))
    assert v.decision == SHIP


def test_a_guardrail_ships_only_when_a_loss_beyond_its_margin_is_ruled_out():
    primary = effect("converted", 0.03, 0.005, role="primary")
    # one-sided 95% bound of the spend change: -0.5 - 1.645 * 0.5 = -1.32, inside the margin of 2
    [ok] = decide(primary, effect("spend", -0.5, 0.5, role="guardrail", margin=2.0))
    assert ok.decision == SHIP and ok.unresolved == () and ok.harmed == ()
    # a significant loss that stays within the margin is no harm
    [small] = decide(primary, effect("spend", -1.0, 0.2, role="guardrail", margin=2.0))
    assert small.decision == SHIP
    # not significant, but a loss larger than the margin cannot be ruled out: no ship
    [open_] = decide(primary, effect("spend", -1.0, 1.0, role="guardrail", margin=2.0))
    assert open_.decision == INCONCLUSIVE and open_.unresolved == ("spend_effect_treatment_vs_control",)
    assert "cannot be ruled out" in open_.reason and "margin 2.000" in open_.reason
    # a loss beyond the margin is shown: don't ship, whatever the primary did
    [hurt] = decide(primary, effect("spend", -4.0, 0.5, role="guardrail", margin=2.0))
    assert hurt.decision == DONT_SHIP and hurt.harmed == ("spend_effect_treatment_vs_control",)
    assert hurt.roles == {"converted_effect_treatment_vs_control": {"role": "primary", "better": "higher", "margin": None},
                          "spend_effect_treatment_vs_control": {"role": "guardrail", "better": "higher", "margin": 2.0}}


def test_a_lower_is_better_guardrail_is_harmed_by_a_rise():
    primary = effect("converted", 0.03, 0.005, role="primary")
    [v] = decide(primary, effect("refund_rate", 0.02, 0.003, role="guardrail", better="lower", margin=0.005))
    assert v.decision == DONT_SHIP and v.harmed == ("refund_rate_effect_treatment_vs_control",)
    [v] = decide(primary, effect("refund_rate", -0.02, 0.003, role="guardrail", better="lower", margin=0.005))
    assert v.decision == SHIP


def test_without_a_margin_only_a_significant_loss_blocks_and_the_reason_says_so():
    primary = effect("converted", 0.03, 0.005, role="primary")
    [v] = decide(primary, effect("spend", -1.0, 1.0, role="guardrail"))
    assert v.decision == SHIP and "without a margin" in v.reason
    [v] = decide(primary, effect("spend", -3.0, 1.0, role="guardrail"))
    assert v.decision == DONT_SHIP


def test_several_arms_are_judged_by_holm_adjusted_p_values_and_each_verdict_names_its_arm():
    arms = [effect("converted", 0.0115, 0.005, treatment=t, role="primary") for t in ("a", "b")]  # raw p = 0.021 each
    assert all(e["p_value"] < 0.05 for e in arms)
    verdicts = decide(*arms)
    assert [v.decision for v in verdicts] == [SHIP, SHIP]  # Holm: 2 x 0.021 < 0.05
    arms = [effect("converted", 0.011, 0.005, treatment="a", role="primary"),
            effect("converted", 0.0, 0.005, treatment="b", role="primary")]
    a, b = decide(*arms)
    assert a.decision == INCONCLUSIVE and "Holm-adjusted across 2 arms" in a.reason  # 2 x 0.028 > 0.05
    assert a.experiment == "experiment table, a vs control" and b.experiment == "experiment table, b vs control"


def test_a_broken_split_means_do_not_decide_and_says_the_alarm_level():
    [v] = decide(effect("converted", 0.03, 0.005, role="primary"), srm_p=1e-5)
    assert v.decision == INCONCLUSIVE and v.reason.startswith("Do not decide") and "alarm level of 0.001" in v.reason


def test_inconclusive_states_the_minimum_detectable_effect_and_the_units_needed():
    control, treatment = (Moments.from_arrays(np.random.default_rng(s).binomial(1, 0.4, 5_000).astype(float)) for s in (1, 2))
    engine = abstats.proportion_effect(control, treatment, metric="converted")
    [mde] = [e.to_dict() for e in abtest.mde_estimates([engine], relative_mde=0.05)]
    assert mde["value"] == pytest.approx((Z + stats.norm.ppf(0.8)) * engine.se)
    needed = sum(mde["extra"]["units_needed"].values())
    assert needed == pytest.approx(10_000 * (mde["value"] / (0.05 * engine.control_value)) ** 2)
    primary = {**engine.difference_estimate().to_dict(), "extra": {**engine.difference_estimate().to_dict()["extra"],
                                                                   "role": "primary", "better": "higher"}}
    v = verdict.verdict("05", "x", primary, "converted", [], None, mde=mde, unit=PP)
    assert v.decision == INCONCLUSIVE
    assert f"{100 * mde['value']:.1f} percentage points" in v.reason and f"{int(round(needed)):,} units" in v.reason


# --- the decision, simulated ---------------------------------------------------------------------

def _arms_draw(rng, runs, arms, true_effects, se_arm):
    """Per-arm means with one shared control: effect_k = mean_k - mean_0, each mean ~ N(truth, se_arm²)."""
    control = rng.normal(0.0, se_arm, runs)
    return np.stack([rng.normal(t, se_arm, runs) for t in true_effects[:arms]], axis=1) - control[:, None]


def _ship_rate(runs, arms, holm=True, seed=0):
    rng = np.random.default_rng(seed)
    se_arm = 0.01
    diffs = _arms_draw(rng, runs, arms, [0.0] * arms, se_arm)
    se = math.sqrt(2) * se_arm
    ships = 0
    for row in diffs:
        effects = [effect("converted", float(d), se, treatment=f"t{k}", role="primary") for k, d in enumerate(row)]
        verdicts = verdict.experiment_verdicts(payload(*effects), None) if holm else [
            verdict.verdict("05", "x", e, "converted", [], None) for e in effects]
        ships += any(v.decision == SHIP for v in verdicts)
    return ships / runs


@pytest.fixture
def no_gc_per_call(monkeypatch):
    """statsmodels' multipletests runs a full garbage collection on every call (50 ms): fine once per
    report, too slow for thousands of simulated ones."""
    monkeypatch.setattr("gc.collect", lambda *args: 0)


@pytest.mark.parametrize("arms", [1, 4, 8])
def test_null_arms_ship_at_most_at_the_nominal_rate(arms, no_gc_per_call):
    runs = 1_500
    rate = _ship_rate(runs, arms, seed=arms)
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs), rate


def test_without_holm_eight_null_arms_ship_too_often_so_the_check_can_fail():
    runs = 1_500
    assert _ship_rate(runs, 8, holm=False, seed=99) > 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_a_guardrail_losing_twice_its_margin_is_almost_never_shipped():
    rng = np.random.default_rng(5)
    runs, margin, se = 2_000, 0.01, 0.01  # the loss is as large as its standard error twice over
    ships = loose = 0
    for loss in rng.normal(-2 * margin, se, runs):
        primary = effect("converted", 0.05, 0.005, role="primary")
        [v] = decide(primary, effect("repeat", float(loss), se, role="guardrail", margin=margin))
        ships += v.decision == SHIP
        [old] = decide(primary, effect("repeat", float(loss), se, role="guardrail"))  # no margin: the former rule
        loose += old.decision == SHIP
    assert ships / runs <= 0.05
    assert loose / runs > 0.3  # the former rule shipped most of these


def test_a_churn_type_primary_that_rises_is_never_shipped_over_many_draws():
    rng = np.random.default_rng(8)
    decisions = {d for d in (decide(effect("churn_7", float(x), 0.004, role="primary", better="lower"))[0].decision
                             for x in rng.normal(0.01, 0.004, 500))}
    assert SHIP not in decisions and DONT_SHIP in decisions


def test_roles_in_a_column_map_are_read_and_checked():
    parsed = roles.parse_metrics({"retention_7": {"role": "primary"}, "churn_7": {"role": "guardrail", "better": "lower",
                                  "margin": 0.005}, "rounds": {"role": "secondary", "robust": True}}, "map.yml")
    assert [(r.metric, r.role, r.better, r.margin, r.robust) for r in parsed] == [
        ("retention_7", "primary", "higher", None, False), ("churn_7", "guardrail", "lower", 0.005, False),
        ("rounds", "secondary", "higher", None, True)]
    listed = roles.parse_metrics(["a", "b"], "map.yml")
    assert [(r.role, r.margin) for r in listed] == [("primary", None), ("guardrail", None)]
    for bad, words in [({"a": {"role": "primry"}}, "role must be one of"), ({"a": {"role": "primary", "better": "up"}}, "better"),
                       ({"a": {"role": "primary"}, "b": {"role": "guardrail", "margin": -1}}, "margin must be a positive"),
                       ({"a": {"role": "primary", "margn": 1}}, "margin"), ({"a": {"role": "guardrail"}}, "exactly one"),
                       ({"a": {"role": "primary", "margin": 0.1}}, "applies to a guardrail")]:
        with pytest.raises(Exception, match=words):
            roles.parse_metrics(bad, "map.yml")


def test_summary_carries_the_roles_verdict_for_the_sla_defaults_of_old_results():
    old = {"analysis": "04_ab_test", "parameters": {"srm_alpha": 0.001},
           "estimates": [effect("csat", 0.15, 0.02, values=(3.5, 3.65)), effect("repeat_purchase", -0.03, 0.005)]}
    [v] = summary.summarize({"04_ab_test": old}).verdicts
    assert v.decision == DONT_SHIP and v.harmed == ("repeat_purchase_effect_treatment_vs_control",)


def test_when_the_sla_moved_who_answers_csat_is_judged_by_its_lee_bounds():
    csat = effect("csat", 0.15, 0.02, role="primary", values=(3.5, 3.65))
    lee = {"name": "csat_lee_bounds_treatment_vs_control", "label": "csat bounds", "value": 0.13, "se": None,
           "ci_low": -0.03, "ci_high": 0.29, "p_value": None, "n": 20_000, "method": "lee_bounds", "ci_level": 0.95,
           "extra": {"metric": "csat", "arms": {"control": "control", "treatment": "treatment"}, "segment": {},
                     "kind": "lee_bounds", "lower": 0.02, "upper": 0.24,
                     "response_by_arm": {"control": 0.439, "treatment": 0.414}}}

    def sla(response):
        return {"analysis": "04_ab_test", "parameters": {"srm_alpha": 0.001}, "estimates": [csat, response, lee]}

    moved = effect("survey_response", -0.024, 0.005, role="guardrail", margin=0.05)
    [v] = verdict.ab_test_verdicts(sla(moved), None)
    assert v.decision == INCONCLUSIVE and "Lee bounds" in v.reason and "+0.02 points and +0.24 points" in v.reason
    assert "minimum detectable" not in v.reason
    steady = effect("survey_response", -0.002, 0.005, role="guardrail", margin=0.05)
    [v] = verdict.ab_test_verdicts(sla(steady), None)
    assert v.decision == SHIP and "Lee" not in v.reason  # who answers did not move: the respondents' comparison stands


def test_lee_bounds_of_the_sla_are_computed_over_customers(small_data):
    from study.ab import sla

    experiment = sla.sla_experiment(small_data)
    bounds = experiment.csat_bounds
    answered = experiment.customers["surveys"] > 0
    assert bounds.n_control + bounds.n_treatment == len(experiment.customers)
    assert bounds.respondents_control + bounds.respondents_treatment == int(answered.sum())
    assert bounds.lower <= bounds.upper and bounds.ci_low <= bounds.lower and bounds.upper <= bounds.ci_high
    [estimate] = [e for e in experiment.estimates if e.name == "csat_lee_bounds_treatment_vs_control"]
    assert (estimate.extra["lower"], estimate.extra["upper"]) == (bounds.lower, bounds.upper)
