"""Reading an experiment before it ends: the plan in a column map, each look's decision, and the
verdict of an A/A experiment read at every one of 20 looks."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study.ab import experiment_engine, monitoring
from study.data.schema import DataError
from study.report import verdict
from study.report.verdict import INCONCLUSIVE, SHIP

Z = stats.norm.ppf(0.975)


@pytest.fixture(autouse=True)
def no_gc_per_call(monkeypatch):
    """statsmodels' multipletests collects garbage on every call (50 ms): too slow for thousands of verdicts."""
    monkeypatch.setattr("gc.collect", lambda *args: 0)


def payload(estimate, se, sequential):
    extra = {"metric": "converted", "arms": {"control": "control", "treatment": "treatment"}, "segment": {},
             "value_by_arm": {"control": 0.4, "treatment": 0.4 + estimate}, "role": "primary", "better": "higher"}
    if sequential:
        extra["sequential"] = sequential
    effect = {"name": "converted_effect_treatment_vs_control", "label": "converted", "value": estimate, "se": se,
              "ci_low": estimate - Z * se, "ci_high": estimate + Z * se, "n": 1, "method": "sim", "ci_level": 0.95,
              "p_value": float(2 * stats.norm.sf(abs(estimate) / se)), "extra": extra}
    return {"analysis": "05_experiment_table", "parameters": {}, "estimates": [effect]}


def decide(estimate, se, sequential=None):
    [v] = verdict.experiment_verdicts(payload(estimate, se, sequential), None)
    return v


def test_a_plan_is_read_and_checked():
    assert monitoring.parse_plan({"units": 90_000, "looks": 10}, "m.yml") == monitoring.Plan(90_000, 10)
    assert monitoring.parse_plan(None, "m.yml") is None
    for bad, words in [({"looks": 3}, "units must be a whole number"), ({"units": 100, "looks": 0}, "looks"),
                       ({"units": 100, "method": "bayes"}, "method must be one of"), ({"units": 100, "look": 3}, "looks"),
                       ({"units": 100, "spending": "linear"}, "spending"), ([100], "must be a mapping")]:
        with pytest.raises(DataError, match=words):
            monitoring.parse_plan(bad, "m.yml")


def test_one_planned_look_is_the_fixed_horizon_test_and_early_looks_demand_more():
    final = monitoring.judge(monitoring.Plan(1_000, 1), 0.2, 0.1, 1_000, 0.05)
    assert final["boundary"] == pytest.approx(Z, abs=1e-4) and final["final"] and final["significant"]
    first = monitoring.judge(monitoring.Plan(1_000, 5), 0.2, 0.1, 200, 0.05)
    assert first["look"] == 1 and not first["final"] and first["boundary"] == pytest.approx(4.877, abs=2e-3)
    assert not first["significant"]
    between = monitoring.judge(monitoring.Plan(1_000, 5), 0.2, 0.1, 290, 0.05)  # a run between looks 1 and 2
    assert between["look"] == 2 and between["information"] == pytest.approx(0.29)


def test_an_interim_look_that_has_not_crossed_says_keep_collecting():
    plan = monitoring.Plan(10_000, 10)
    early = decide(0.03, 0.012, monitoring.judge(plan, 0.03, 0.012, 2_000, 0.05))  # z = 2.5 at look 2: not enough
    assert early.decision == INCONCLUSIVE and "keep collecting" in early.reason and "look 2 of 10" in early.reason
    crossed = decide(0.06, 0.012, monitoring.judge(plan, 0.06, 0.012, 2_000, 0.05))  # z = 5
    assert crossed.decision == SHIP


def _a_a_ship_rate(runs, looks, judge_by, seed):
    """Share of A/A experiments, read at each of ``looks`` equally spaced looks, that ship at one of them."""
    rng = np.random.default_rng(seed)
    planned = 4_000
    per_look = planned // looks // 2  # units per arm added at each look
    shipped = 0
    for _ in range(runs):
        sums = np.cumsum(rng.normal(0.0, math.sqrt(per_look), size=(looks, 2)), axis=0)
        for j in range(looks):
            n_arm = per_look * (j + 1)
            estimate, se = float((sums[j, 1] - sums[j, 0]) / n_arm), math.sqrt(2 / n_arm)
            sequential = judge_by(estimate, se, 2 * n_arm) if judge_by else None
            if decide(estimate, se, sequential).decision == SHIP:
                shipped += 1
                break
    return shipped / runs


@pytest.mark.parametrize("method", ["group_sequential", "always_valid"])
def test_an_a_a_experiment_read_at_twenty_looks_ships_at_most_at_the_nominal_rate(method):
    plan = monitoring.Plan(4_000, 20, method)
    runs = 1_000
    rate = _a_a_ship_rate(runs, 20, lambda e, se, n: monitoring.judge(plan, e, se, n, 0.05), seed=1)
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs), rate


def test_without_a_plan_twenty_looks_ship_too_often_so_the_check_can_fail():
    runs = 1_000
    assert _a_a_ship_rate(runs, 20, None, seed=2) > 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_a_plan_in_the_column_map_reaches_the_verdict(tmp_path):
    rng = np.random.default_rng(3)
    n = 4_000
    arm = np.where(np.arange(n) % 2 == 0, "control", "new")
    pd.DataFrame({"id": np.arange(n), "arm": arm, "bought": (rng.random(n) < 0.3).astype(int)}).to_csv(
        tmp_path / "t.csv", index=False)
    (tmp_path / "m.yml").write_text("experiment:\n  unit: id\n  arm: arm\n  control: control\n  metrics: [bought]\n"
                                    "  plan: {units: 20000, looks: 5}\n")
    result = experiment_engine.from_files(tmp_path / "t.csv", tmp_path / "m.yml")
    [effect] = [e for e in result.effects if e.metric == "bought"]
    assert effect.extra["sequential"]["look"] == 1 and effect.extra["sequential"]["information"] == pytest.approx(0.2)
    estimates = {e.name: e.to_dict() for e in result.estimates}
    payload = {"analysis": "05_experiment_table", "parameters": result.parameters, "estimates": list(estimates.values())}
    [v] = verdict.experiment_verdicts(payload, None)
    assert v.decision == INCONCLUSIVE and "look 1 of 5 (4,000 of 20,000 planned units)" in v.reason
