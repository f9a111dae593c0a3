"""Experiments in the executive summary: the ship / don't ship / inconclusive verdict, read from the results file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from study.analyses import AB_TEST, EXPERIMENT
from study.core.words import (
    CSAT_POINTS,
    METRIC_WORDS,
    PLAIN,
    PP,
    Unit,
    change,
    direction,
    first_upper,
    p_value,
)
from study.report.sentences import estimates_by_name, finite, usable

# The SLA experiment (04): CSAT is the primary metric; buying again and spending are guardrails.
SLA_PRIMARY = "csat"


SHIP, DONT_SHIP, INCONCLUSIVE = "ship", "don't ship", "inconclusive"
PLAIN3 = Unit(1.0, 3)


SLA_GUARDRAILS = ("repeat_purchase", "customer_repeat_rate", "customer_spend")


@dataclass(frozen=True)
class Verdict:
    """Ship, don't ship or inconclusive for one treatment arm of an experiment.

    Attributes
    ----------
    analysis : str
    experiment : str
        What was compared, in words, e.g. ``SLA experiment, treatment vs control``.
    decision : str
        ``ship``, ``don't ship`` or ``inconclusive`` (see :func:`verdict`).
    reason : str
        Why, in one sentence.
    href : str or None
    primary : str
        Name of the primary metric's estimate.
    guardrails : tuple of str
        Names of the guardrail estimates checked.
    harmed : tuple of str
        Names of the guardrail estimates whose interval lies entirely below zero.
    """

    analysis: str
    experiment: str
    decision: str
    reason: str
    href: str | None
    primary: str
    guardrails: tuple[str, ...] = ()
    harmed: tuple[str, ...] = ()


def srm_broken(srm: Mapping | None, threshold: float | None = None) -> bool:
    """Whether a sample-ratio estimate flags a mismatch: ``extra.mismatch`` true, or its p below the threshold.

    The threshold is ``threshold`` when given (the analysis's ``srm_alpha``), else one minus the
    estimate's ``ci_level`` (the results file stores the check's alpha that way).
    """
    if not srm:
        return False
    if (srm.get("extra") or {}).get("mismatch") is True:
        return True
    p = srm.get("p_value")
    if threshold is None:
        threshold = 1 - (srm.get("ci_level") or 0.999)
    return finite(p) and p < threshold


def _srm_threshold(payload: Mapping) -> float | None:
    alpha = (payload.get("parameters") or {}).get("srm_alpha")
    return float(alpha) if finite(alpha) else None


def _arms(estimate: Mapping) -> tuple[str, str]:
    arms = (estimate.get("extra") or {}).get("arms") or {}
    return str(arms.get("control", "control")), str(arms.get("treatment", "treatment"))


def _is_whole(estimate: Mapping) -> bool:
    """An engine comparison of the whole experiment (not a segment)."""
    extra = estimate.get("extra") or {}
    return "arms" in extra and not extra.get("segment")


def _comparisons(found: Mapping[str, dict], what: str) -> list[dict]:
    """Whole-experiment engine estimates of one kind (``effect`` or ``relative_lift``), in file order."""
    return [e for e in found.values() if _is_whole(e) and e["name"].startswith(f"{(e.get('extra') or {}).get('metric')}_{what}_")]


def _unit_of(effect: Mapping, known: Mapping[str, Unit] | None = None) -> Unit:
    """Percentage points for rates (both arms' values within 0 and 1), else the metric's own unit."""
    metric = (effect.get("extra") or {}).get("metric")
    if known and metric in known:
        return known[metric]
    values = list(((effect.get("extra") or {}).get("value_by_arm") or {}).values())
    if values and all(finite(v) and 0 <= v <= 1 for v in values):
        return PP
    return PLAIN3


def _find_mde(found: Mapping[str, dict], effect: Mapping) -> dict | None:
    """A power estimate for the effect's metric and arms: a name containing 'mde' with matching ``extra``."""
    metric = effect["extra"]["metric"]
    for e in found.values():
        extra = e.get("extra") or {}
        if "mde" in e["name"].lower() and extra.get("metric") == metric and not extra.get("segment") \
                and (not extra.get("arms") or _arms(e) == _arms(effect)) and usable(e, interval=False):
            return e
    return None


def verdict(analysis: str, experiment: str, primary: Mapping, primary_words: str, guardrails: Sequence[tuple[Mapping, str]],
            srm: Mapping | None, srm_threshold: float | None = None, mde: Mapping | None = None,
            unit: Unit = PLAIN, href: str | None = None, units: Mapping[str, Unit] | None = None) -> Verdict:
    """Ship, don't ship or inconclusive, with the reason in one sentence.

    Every metric is read as higher-is-better, and the rules are applied in this order:

    1. **Sample-ratio mismatch → inconclusive.** The SRM estimate's ``extra.mismatch`` is true, or its
       p-value is below its threshold (``srm_threshold``, else one minus its ``ci_level``): the split is
       broken, and the comparison cannot be trusted whatever it shows.
    2. **Ship.** The primary metric's interval lies entirely above zero, and no guardrail's interval
       lies entirely below zero.
    3. **Don't ship.** The primary metric's interval lies entirely below zero, or a guardrail's interval
       lies entirely below zero (significantly harmed), whatever the primary metric did.
    4. **Inconclusive** otherwise: the primary metric's interval includes zero. When the results hold a
       minimum-detectable-effect estimate for the metric (``mde``), the reason gives it.

    Parameters
    ----------
    analysis : str
    experiment : str
        What is compared, in words.
    primary : mapping
        The primary metric's effect estimate (value, ci_low, ci_high: finite).
    primary_words : str
        The primary metric in words, starting with our own words (it may be capitalized), e.g. 'CSAT'.
    guardrails : sequence of (mapping, str)
        Each guardrail's effect estimate and its words; estimates without an interval are ignored.
    srm : mapping or None
        The sample-ratio estimate (``sample_ratio_chi2``); ``None`` when the results hold none.
    srm_threshold : float, optional
    mde : mapping, optional
        Minimum detectable effect of the primary metric, in its unit.
    unit : Unit
        How to write the primary metric's effect.
    href : str, optional
    units : mapping, optional
        Metric name -> Unit for guardrails (default: percentage points for rates, else plain).

    Returns
    -------
    Verdict
    """
    checked = [(g, words) for g, words in guardrails if usable(g)]
    names = tuple(g["name"] for g, _ in checked)
    harmed = [(g, words) for g, words in checked if g["ci_high"] < 0]
    common = {"analysis": analysis, "experiment": experiment, "href": href, "primary": primary["name"],
              "guardrails": names, "harmed": tuple(g["name"] for g, _ in harmed)}
    if srm_broken(srm, srm_threshold):
        alarm = srm_threshold if srm_threshold is not None else 1 - (srm.get("ci_level") or 0.999)
        why = (f", {p_value(srm['p_value'])} against the planned split, alarm below p = {alarm:g}"
               if finite(srm.get("p_value")) else "")
        return Verdict(decision=INCONCLUSIVE, reason=(
            f"The split is broken (sample ratio mismatch{why}), so the comparison cannot be trusted; "
            "find the cause before reading any effect."), **common)
    moved = change(primary, unit, f"{primary_words} rose", f"{primary_words} fell", f"{primary_words} changed")
    sign = direction(primary)
    if harmed:
        hurt = "; ".join(f"the guardrail {words} {change(g, _unit_of(g, units), 'rose', 'fell', 'changed')}"
                         for g, words in harmed)
        return Verdict(decision=DONT_SHIP, reason=(
            f"A guardrail was significantly harmed: {hurt}, entirely below zero"
            + (f", even though {moved}." if sign > 0 else f"; {moved}.")), **common)
    if sign > 0:
        guard = (f", and no guardrail ({', '.join(words for _, words in checked)}) was significantly harmed"
                 if checked else " (the results hold no guardrail metric)")
        return Verdict(decision=SHIP, reason=f"{first_upper(moved)}, an interval entirely above zero{guard}.", **common)
    if sign < 0:
        return Verdict(decision=DONT_SHIP, reason=f"{first_upper(moved)}, an interval entirely below zero.", **common)
    detect = ""
    if mde:
        detect = (f"; this experiment could reliably detect only effects of about {unit(abs(mde['value']))} or more "
                  "(minimum detectable effect), so a smaller effect may be there unseen")
    return Verdict(decision=INCONCLUSIVE, reason=(
        f"{first_upper(moved)}: the interval includes zero, so the data cannot tell a gain from a loss"
        f"{detect}."), **common)


def ab_test_verdicts(payload: Mapping, href: str | None) -> list[Verdict]:
    """04: the verdict on the SLA, CSAT its primary metric, repeat purchase and spend its guardrails."""
    found = estimates_by_name(payload)
    threshold = _srm_threshold(payload)
    srm = found.get("sample_ratio_chi2")
    units = {"csat": CSAT_POINTS, "repeat_purchase": PP, "customer_repeat_rate": PP, "customer_spend": PLAIN}
    effects = {e["extra"]["metric"]: e for e in _comparisons(found, "effect")
               if _arms(e) == ("control", "treatment") and usable(e)}
    primary = effects.get(SLA_PRIMARY)
    if not primary:
        return []
    guardrails = [(effects[m], METRIC_WORDS[m]) for m in SLA_GUARDRAILS if m in effects]
    return [verdict(AB_TEST, "SLA experiment (faster first response), treatment vs control", primary,
                    METRIC_WORDS[SLA_PRIMARY], guardrails, srm, threshold, _find_mde(found, primary),
                    CSAT_POINTS, href, units)]


def experiment_verdicts(payload: Mapping, href: str | None) -> list[Verdict]:
    """05: a verdict per treatment arm on the primary metric.

    The primary metric is the first metric of the column map (``parameters.column_map.metrics``), the
    others are guardrails; without a column map in the results, the first metric compared.
    """
    found = estimates_by_name(payload)
    threshold = _srm_threshold(payload)
    srm = found.get("sample_ratio_chi2")
    effects = _comparisons(found, "effect")
    if not effects:
        return []
    listed = ((payload.get("parameters") or {}).get("column_map") or {}).get("metrics") or []
    metrics = [str(m) for m in listed] or list(dict.fromkeys(e["extra"]["metric"] for e in effects))
    primary_metric = metrics[0]
    verdicts = []
    for effect in effects:
        if effect["extra"]["metric"] != primary_metric or not usable(effect):
            continue
        control, treatment = _arms(effect)
        guardrails = [(e, f"{e['extra']['metric']}") for e in effects
                      if e["extra"]["metric"] != primary_metric and _arms(e) == (control, treatment)]
        verdicts.append(verdict(EXPERIMENT, f"experiment table, {treatment} vs {control}", effect,
                                f"the primary metric, {primary_metric},", guardrails, srm, threshold,
                                _find_mde(found, effect), _unit_of(effect), href))
    return verdicts
