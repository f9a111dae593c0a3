"""Observational findings speak of associations, key drivers are descriptive, and a missed truth is said plainly."""

import math
import re
from dataclasses import replace

import pytest
from scipy import stats

import study
from study.core import words
from study.core.results import Estimate
from study.regression import findings as regression_findings

DATA = "data/tickets.parquet"

# Verbs (and nouns) that claim a cause. An observational sentence must not use them; the randomized
# check may say "effect", and a stated assumption may name a "common cause".
CAUSAL = re.compile(
    r"\b(lowers|raises|costs|changes? (?:CSAT|it|the)|(?:is )?worth|drives?|driven|effects?|multipl(?:ies|y)|"
    r"pays?|increases|decreases|reduces|boosts?|hurts?|harms?|improves|leads? to|impacts?|matters?)\b",
    re.IGNORECASE)

RANDOMIZED = ("randomized", "treatment_vs_control", "sla_effect_on_", "sla_first_stage")


@pytest.fixture(scope="module")
def run():
    """02, 03 and 01 on the embedded sample, with few replicates (the words, not the intervals, are tested)."""
    data = study.load(DATA)
    truth = study.truth(DATA, data.source)
    assert truth is not None, "the embedded sample is a simulation with its truth beside it"
    return {
        "data": data, "truth": truth,
        "satisfaction": study.satisfaction(data, bootstrap=20, seed=1),
        "repeat": study.repeat_purchase(data, replicates=30, seed=1),
        "overview": study.overview(data),
    }


def _observational(found):
    """The findings that state an observational result: not skipped, not randomized, not a list of assumptions."""
    return [f for f in found if f.kind != "skipped" and not any(r in name for name in f.estimates[:1] for r in RANDOMIZED)
            and "assume" not in f.text.split("**")[1]]


def test_the_scan_catches_causal_verbs():
    bad = ["Each doubling lowers CSAT by 0.15", "resolving is worth +0.8", "a 4-hour reply costs -0.29",
           "what drives satisfaction", "each doubling changes CSAT by -0.15", "the speed effect", "where improvement pays most"]
    assert all(CAUSAL.search(sentence) for sentence in bad)
    fine = ["Each doubling goes with CSAT -0.15", "tickets answered twice as slowly have CSAT lower by 0.15 points",
            "no unmeasured common cause"]
    assert not any(CAUSAL.search(sentence) for sentence in fine)


@pytest.mark.parametrize("analysis", ["satisfaction", "repeat", "overview"])
def test_observational_findings_use_association_words(run, analysis):
    found = run[analysis].findings(run["truth"])
    checked = _observational(found)
    assert len(checked) >= 4
    for finding in checked:
        assert not CAUSAL.search(finding.text), finding.text


def test_the_headline_speed_finding_reads_as_an_association(run):
    found = run["satisfaction"].findings(run["truth"])
    speed = next(f for f in found if f.estimates[:1] == ("csat_per_doubling_adjusted",))
    adjusted = run["satisfaction"].drivers.get("csat_per_doubling_adjusted")
    assert speed.headline and "goes with CSAT" in speed.text and "observational association" in speed.text
    assert f"tickets answered twice as slowly have CSAT lower by {abs(adjusted.value):.2f} points" in speed.text
    versus = next(f for f in found if f.text.startswith("**Resolution versus speed.**"))
    assert "Resolved cases go with CSAT" in versus.text


def test_key_drivers_are_called_descriptive_and_promise_nothing(run):
    found = run["satisfaction"].findings(run["truth"])
    drivers = next(f for f in found if f.text.startswith("**Key drivers"))
    assert "descriptive" in drivers.text and "not causal" in drivers.text
    assert "pays most" not in drivers.text and "concentrate" not in drivers.text


def test_the_truth_check_covers_speed_and_resolution(run):
    found = run["satisfaction"].findings(run["truth"])
    (check,) = [f for f in found if f.kind == "truth"]
    assert "Speed (true -0.150 per doubling)" in check.text and "Resolution (true +0.80 points)" in check.text
    assert "the naive interval" in check.text and not check.headline
    (repeat_check,) = [f for f in run["repeat"].findings(run["truth"]) if f.kind == "truth"]
    assert "Resolution, total (true +9.80 pp)" in repeat_check.text


def test_an_interval_that_misses_the_truth_gets_a_warning_of_its_own(run):
    result = run["satisfaction"]
    resolved = result.drivers.get("csat_resolved_adjusted")
    # A truth 5 standard errors below the estimate: its interval cannot contain it.
    shifted = {**run["truth"], "csat_resolved": resolved.value - 5 * resolved.se}
    found = result.findings(shifted)
    (check,) = [f for f in found if f.kind == "truth"]
    assert "the adjusted interval **misses** it" in check.text.split("Resolution")[1]
    warnings = [f for f in found if f.kind == "warning" and f.estimates == ("csat_resolved_adjusted",)]
    assert len(warnings) == 1 and not warnings[0].headline
    assert warnings[0].text.startswith("**Misses the truth.** The adjusted resolution interval")
    assert "5.0 standard errors" in warnings[0].text and "biased" in warnings[0].text
    # The naive slope is expected to miss: said in the check, no warning.
    assert "(expected: nothing is held fixed)" in found.markdown() or result.drivers.naive.covers(shifted["csat_per_doubling_response_time"])
    assert not any(f.kind == "warning" and f.estimates == ("csat_per_doubling_naive",) for f in found)


def test_a_missed_truth_in_repeat_purchase_is_flagged(run):
    result = run["repeat"]
    total = result.logits.get("repeat_per_doubling_total")
    shifted = {**run["truth"], "repeat_total_per_doubling_response_time": total.ci_high + 0.002}
    warnings = [f for f in result.findings(shifted) if f.kind == "warning" and f.text.startswith("**Misses the truth.**")]
    assert [w.estimates for w in warnings] == [("repeat_per_doubling_total",)]
    assert "The total speed interval" in warnings[0].text and " pp)" in warnings[0].text


def _estimate(value=0.813, se=0.003):
    half = 1.959963984540054 * se
    return Estimate("csat_resolved_adjusted", "resolved", value, se, value - half, value + half, 0.0, 100, "ols")


@pytest.mark.parametrize("true_value", [0.80, 0.807])
def test_the_miss_sentence_states_the_distance_and_its_chance(true_value):
    estimate = _estimate()
    sentence = words.misses_truth(estimate, true_value, "adjusted resolution")
    z = (estimate.value - true_value) / estimate.se
    assert sentence.startswith("**Misses the truth.** The adjusted resolution interval (95% CI +0.807 to +0.819) does not "
                               f"contain the simulation's true {true_value:+.3f}: the estimate lies {z:.1f} standard errors")
    chance = 2 * stats.norm.sf(abs(z))  # scipy, not the erfc the sentence uses
    odds = 1 / chance
    written = round(odds, -max(0, math.floor(math.log10(odds)) - 1))
    assert f"this far about one time in {written:,.0f}" in sentence
    assert ("so on this data the estimate is biased" in sentence) == (abs(z) >= 3)
    assert "misses by chance about one time in 20" in sentence


def test_the_miss_sentence_without_a_standard_error_just_says_it_misses():
    sentence = words.misses_truth(replace(_estimate(), se=None), 0.70, "adjusted resolution", hint="See within agents.")
    assert sentence.endswith("does not contain the simulation's true +0.700. See within agents.")


def test_truth_checks_give_nothing_without_checks():
    assert regression_findings.truth_checks("Check", []) == []
