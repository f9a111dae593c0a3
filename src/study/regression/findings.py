"""Findings of the regression wing (02, 03) in words, written from the estimates of a run.

The estimates are observational (the randomized check aside), so the sentences say what goes with
what ("goes with", "have CSAT lower by"), never what causes what; the key-driver shares are
descriptive. With a simulation's truth, one finding checks every interval against it, and each
interval that misses the truth gets a warning of its own that says so plainly.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from study.core.findings import Finding, Findings, skipped
from study.core.results import Skipped
from study.core.words import (
    misses_truth,
    number,
    p_value,
    points,
    quantity,
    resolution_versus_speed,
    with_interval,
)
from study.regression import repeat_sentences
from study.regression.key_drivers import IMPORTANT_UNDER_PERFORMING


# The heading of 02's section that shows the headline estimates (the index links to it).
SPEED = "Naive, adjusted and randomized"


# The words of an association: tickets answered twice as slowly "have CSAT lower by" ...
def _lower_or_higher(value: float, unit: str = "value") -> str:
    size = quantity(abs(value), unit).lstrip("+")
    return f"lower by {size}" if value < 0 else f"higher by {size}"


class TruthCheck(NamedTuple):
    """One interval to check against a simulation's true value.

    Attributes
    ----------
    group : str
        Heads the checks of one true value in the truth finding, e.g. 'speed (true -0.150 per doubling)'.
    what : str
        The estimate within its group, e.g. 'adjusted' (the sentence reads 'the adjusted interval ...').
    label : str
        The estimate on its own, for a warning: 'adjusted resolution'.
    estimate : Estimate
    true_value : float
    unit : str
        As :func:`study.core.words.with_interval`.
    expected : str
        Why a miss is no surprise (the naive slope holds nothing fixed): the truth finding says so and
        no warning is given.
    hint : str
        A sentence for the warning on where a miss may come from.
    digits : int
        Decimals of the warning's numbers (:func:`study.core.words.quantity`).
    """

    group: str
    what: str
    label: str
    estimate: object
    true_value: float
    unit: str = "value"
    expected: str = ""
    hint: str = ""
    digits: int = 3


def truth_checks(title: str, checks: list[TruthCheck], note: str = "") -> list[Finding]:
    """One ``truth`` finding that checks each interval against the simulation's truth, and a warning per miss.

    Parameters
    ----------
    title : str
        Bold lead of the truth finding.
    checks : list of TruthCheck
    note : str
        Appended to the truth finding.

    Returns
    -------
    list of Finding
        Empty without checks; else the truth finding, then one ``warning`` per interval that misses its
        true value (:func:`study.core.words.misses_truth`), except the misses a check expects.
    """
    if not checks:
        return []
    groups: dict[str, list[str]] = {}
    warnings = []
    for check in checks:
        if check.estimate.covers(check.true_value):
            verdict = "covers it"
        elif check.expected:
            verdict = f"**misses** it ({check.expected})"
        else:
            verdict = "**misses** it"
            warnings.append(Finding(misses_truth(check.estimate, check.true_value, check.label, check.unit, check.digits,
                                                 check.hint),
                                    (check.estimate.name,), kind="warning"))
        groups.setdefault(check.group, []).append(f"the {check.what + ' ' if check.what else ''}interval {verdict}")
    text = " ".join(f"{group[:1].upper() + group[1:]}: {'; '.join(parts)}." for group, parts in groups.items())
    return [Finding(f"**{title}.** {text}" + (f" {note}" if note else ""), kind="truth"), *warnings]


def _controls_words(controls: list[str], also: list[str] = (), fixed: list[str] = ()) -> str:
    """'resolution, issue category, channel and the agent held fixed' from the controls (and fixed effects) of a model."""
    names = list(also) + [{"category": "issue category"}.get(c, c.replace("_", " ")) for c in controls]
    names += [{"agent_id": "the agent"}.get(c, c.replace("_", " ")) for c in fixed]
    if not controls:
        names.append("no known confounder (none is in this data)")
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} held fixed"


def _hours_words(hours: float) -> str:
    """``55 minutes`` under an hour, ``5.5 hours`` above."""
    return f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:.1f} hours"


def satisfaction(result, truth: dict | None = None) -> Findings:
    """Findings of :func:`study.regression.satisfaction.study`; a skipped section says so, with its reason.

    Parameters
    ----------
    result : study.regression.satisfaction.SatisfactionStudy
    truth : dict, optional
        The simulation's true values (:func:`study.report.truth.for_data`), for a check against them.
    """
    if isinstance(result.drivers, Skipped):
        return Findings(_satisfaction_without_drivers(result))
    drivers = result.drivers
    naive = drivers.naive
    adjusted = drivers.get("csat_per_doubling_adjusted")
    resolved = next((e for e in drivers.adjusted if e.name == "csat_resolved_adjusted"), None)
    day = drivers.get("csat_24h_vs_1h_adjusted")
    lines = [Finding(
        f"**Speed.** Each doubling of the first response time goes with CSAT {with_interval(adjusted)} points "
        f"on the 1-5 scale, with {_controls_words(drivers.controls, also=['resolution'], fixed=drivers.fixed_effects)} "
        f"({drivers.ledger.rows_used:,} answered surveys, {p_value(adjusted.p_value)}): tickets answered twice as "
        f"slowly have CSAT {_lower_or_higher(adjusted.value)} points. This is an observational association: it "
        "adjusts for the confounders we know of, not for ones we do not.",
        (adjusted.name,), headline=True, section=SPEED)]
    if naive.covers(adjusted.value):
        lines.append(Finding(f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}; "
                             "it agrees with the adjusted estimate within its interval.", (naive.name, adjusted.name),
                             headline=True, section=SPEED))
    else:
        direction = "overstates" if abs(naive.value) > abs(adjusted.value) else "understates"
        lines.append(Finding(
            f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}: it "
            f"{direction} the adjusted association by {abs(naive.value / adjusted.value - 1):.0%}, and its interval excludes the "
            "adjusted estimate. Complex issues take longer to answer *and* leave customers less satisfied however "
            "fast the reply, so part of the naive slope is the issue, not the wait.", (naive.name, adjusted.name),
            headline=True, section=SPEED))
    lines += result.agents_findings()
    lines += result.randomized_findings()
    if truth is not None:
        lines += truth_checks("Check against the simulation's truth", _satisfaction_checks(result, truth))
    if resolved is not None:
        longest = getattr(result, "longest_wait_hours", None)
        if longest is not None and longest < 24:
            # No ticket waited a day: a 24-hour contrast would be read off the line beyond the data.
            day, contrast = adjusted, (f"a first reply twice as slow goes with {with_interval(adjusted)} points (the "
                                       f"longest first wait in the data is {_hours_words(longest)}, so a 24-hour "
                                       "contrast is not quoted)")
        else:
            contrast = f"a first reply after 24 hours instead of 1 hour goes with {with_interval(day)} points"
        verdict = resolution_versus_speed((resolved.ci_low, resolved.ci_high), (day.ci_low, day.ci_high))
        lines.append(Finding(
            f"**Resolution versus speed.** Resolved cases go with CSAT {with_interval(resolved)} points against "
            f"unresolved ones; {contrast}: {verdict}.", (resolved.name, day.name), headline=True, section=SPEED))
    if not isinstance(result.confounding, (Skipped, type(None))):
        lines += result.confounding.findings()
    curve = result.dose.curve.set_index("hours") if not isinstance(result.dose, Skipped) else pd.DataFrame()
    if 0.25 in curve.index and 4.0 in curve.index:
        lines.append(Finding(
            f"**The first hour.** Against tickets answered in 1 hour, those answered in 15 minutes have CSAT "
            f"{_lower_or_higher(curve.loc[0.25, 'effect'])} points and those answered in 4 hours "
            f"{_lower_or_higher(curve.loc[4.0, 'effect'])} points (flexible spline fit, same confounders held fixed; the figure "
            "below shows the whole curve)."))
    by_outcome = {e.name: e for e in result.interaction} if isinstance(result.interaction, list) else {}
    difference = by_outcome.get("csat_speed_x_resolved")
    if difference is not None:
        steeper = abs(by_outcome["csat_per_doubling_resolved"].value) > abs(by_outcome["csat_per_doubling_unresolved"].value)
        verdict = "about as steep" if difference.covers(0.0) else ("steeper" if steeper else "less steep")
        lines.append(Finding(
            f"**Speed when the problem is not solved.** The speed slope is {verdict} among resolved cases "
            f"({with_interval(by_outcome['csat_per_doubling_resolved'])} per doubling) {'as' if verdict.startswith('about') else 'than'} "
            f"among unresolved ones ({with_interval(by_outcome['csat_per_doubling_unresolved'])}); difference "
            f"{with_interval(difference)}.",
            ("csat_per_doubling_resolved", "csat_per_doubling_unresolved", difference.name)))
    if isinstance(result.ordered, Skipped):
        lines.append(skipped(result.ordered.section, result.ordered.reason))
    else:
        top_two = next(e for e in result.ordered.effects if e.name == "top2_per_doubling_ordered_logit")
        lines.append(Finding(f"**On the share of satisfied customers** (CSAT 4 or 5, ordered logit): each doubling of the "
                             f"wait goes with {with_interval(top_two, 'pp')} in that share.", (top_two.name,)))
    lines += _later_sections(result)
    return Findings(lines)


def _satisfaction_without_drivers(result) -> list[Finding]:
    """The findings when the main models could not run: what was skipped and why, and what still ran."""
    lines = [skipped(result.drivers.section, result.drivers.reason, headline=True)]
    lines += [skipped(s.section, s.reason) for s in result.skipped
              if s is not result.drivers and s.reason != result.drivers.reason]
    return lines + _later_sections(result, skipped_said=True)


def _later_sections(result, skipped_said: bool = False) -> list[Finding]:
    """Survey non-response and key drivers (or why they were skipped)."""
    lines = []
    nonresponse = result.nonresponse
    if not nonresponse.skipped:
        answered = nonresponse.get("csat_mean_respondents")
        weighted = nonresponse.get("csat_mean_ipw")
        unresolved = next((e for e in nonresponse.response if e.name == "survey_response_resolved"), None)
        complete, weighted_slope = nonresponse.get("csat_per_doubling_complete_case"), nonresponse.get("csat_per_doubling_ipw")
        moves = "barely moves" if abs(weighted_slope.value - complete.value) < complete.se else "moves"
        who = ""
        if unresolved is not None:
            direction = "less" if unresolved.value < 0 else "more"
            who = (f"Resolved cases answer {points(abs(unresolved.value), 0, signed=False)} {direction} often than "
                   f"unresolved ones, so the answers {'over' if direction == 'less' else 'under'}-represent bad experiences. ")
        lines.append(Finding(
            f"**Who answers the survey.** {who}Mean CSAT of the answers is {answered.value:.2f}; weighted back to all "
            f"tickets (inverse probability of answering) it is {weighted.value:.2f} ({weighted.ci_level:.0%} CI {weighted.ci_low:.2f} to "
            f"{weighted.ci_high:.2f}). The speed slope {moves}: {number(complete.value, signed=True)} among answers, "
            f"{number(weighted_slope.value, signed=True)} weighted.",
            (answered.name, weighted.name, complete.name, weighted_slope.name)))
    elif not skipped_said or nonresponse.skipped != getattr(result.drivers, "reason", None):
        lines.append(skipped("survey non-response", nonresponse.skipped))
    if isinstance(result.importance, Skipped):
        if not skipped_said:
            lines.append(skipped(result.importance.section, result.importance.reason))
        return lines
    table = result.importance.table
    leaders = ", ".join(f"{row.label} {row.share_of_explained:.0%}" for row in table.head(3).itertuples())
    focus = [row.label for row in table.itertuples() if row.quadrant == IMPORTANT_UNDER_PERFORMING]
    lines.append(Finding(
        f"**Key drivers (descriptive).** Of the CSAT variation the service attributes explain "
        f"(R² {result.importance.r_squared:.2f}), {leaders}. These shares describe the data and are not causal: an "
        "attribute that travels with a cause shares in its credit."
        + (f" Above-average share and below-average performance today: {', '.join(focus)}; whether improving it would "
           "move CSAT is a question the shares cannot answer." if focus else "")))
    return lines


def repeat_purchase(result, truth: dict | None = None) -> Findings:
    """Findings of :func:`study.regression.repeat.study`; a skipped model says so, with its reason.

    Parameters
    ----------
    result : study.regression.repeat.RepeatStudy
    truth : dict, optional
        The simulation's true values, for a check against them.
    """
    logits = result.logits
    total = logits.get("repeat_per_doubling_total")
    direct = logits.get("repeat_per_doubling_direct")
    per_point = logits.get("repeat_per_csat_point")
    resolved = next((e for e in logits.total if e.name == "repeat_resolved_total"), None)
    skipped_models = getattr(logits, "skipped_models", {})
    lines = []
    if total is not None:
        lines.append(Finding(
            f"**Speed.** Each doubling of the first response time goes with {with_interval(total, 'pp')} in the chance "
            f"of buying again ({total.n:,} tickets, {p_value(total.p_value)}; logit, averaged over the tickets, "
            f"{_controls_words(logits.controls)}): customers answered twice as slowly buy again "
            f"{'less' if total.value < 0 else 'more'} often. Observational: an association, adjusted for the confounders "
            "we know of only.", (total.name,), headline=True, section="Marginal effects"))
    else:
        lines.append(skipped("the logit of repeat purchase without CSAT", skipped_models.get("without CSAT", "not fitted"),
                             headline=True))
    if resolved:
        lines.append(Finding(f"**Resolution.** A resolved case goes with {with_interval(resolved, 'pp')} in repeat purchase.",
                             (resolved.name,)))
    if per_point is not None and direct is not None:
        lines.append(Finding(
            f"**Satisfaction.** Among customers who answered the survey, each CSAT point goes with "
            f"{with_interval(per_point, 'pp')} in repeat purchase; holding CSAT fixed, a doubling of the wait goes "
            f"with {with_interval(direct, 'pp')}.", (per_point.name, direct.name)))
    elif skipped_models.get("with CSAT") != skipped_models.get("without CSAT"):
        lines.append(skipped("the logit of repeat purchase with CSAT", skipped_models.get("with CSAT", "not fitted")))
    mediation = result.mediation
    if not mediation.skipped or mediation.skipped not in skipped_models.values():
        lines += repeat_sentences.mediation_findings(mediation)
    survival = result.survival
    if not survival.skipped:
        ratio = survival.get("repurchase_hazard_ratio_per_doubling")
        lines.append(Finding(
            f"**Time to the next purchase.** Each doubling of the wait goes with a rate of buying again "
            f"{ratio.value:.3f} times as high ({ratio.ci_level:.0%} CI {ratio.ci_low:.3f} to {ratio.ci_high:.3f}; Cox model, "
            "censored at the end of the follow-up window; observational).", (ratio.name,)))
        lines += repeat_sentences.survival_findings(survival)
    elif survival.skipped not in skipped_models.values():
        lines.append(skipped("time to the next purchase", survival.skipped))
    if result.evalues is not None:
        lines += result.evalues.findings()
    if truth is not None:
        indirect = None if mediation.skipped else mediation.get("repeat_per_doubling_indirect_via_csat")
        candidates = (
            ("speed, total", "total speed", total, "repeat_total_per_doubling_response_time", " per doubling"),
            ("speed, CSAT held fixed", "direct speed", direct, "repeat_direct_per_doubling_response_time", " per doubling"),
            ("speed, through CSAT", "indirect speed", indirect, "repeat_indirect_per_doubling_response_time", " per doubling"),
            ("CSAT", "per-CSAT-point", per_point, "repeat_per_csat_point", " per point"),
            ("resolution, total", "total resolution", resolved, "repeat_total_resolved", ""),
        )
        shape = ("The logit approximates the simulation's linear process, so a small miss can come from the model's "
                 "shape rather than from confounding.")
        checks = [TruthCheck(f"{group} (true {points(truth[key], 2)}{per})", "", label, e, truth[key], "pp",
                             hint=shape, digits=2)
                  for group, label, e, key, per in candidates if e is not None and key in truth]
        lines += truth_checks("Check against the simulation's truth", checks,
                              "The logits approximate the simulation's linear process.")
    return Findings(lines)


def _satisfaction_checks(result, truth: dict) -> list[TruthCheck]:
    """The intervals of 02 to check against the truth: speed (direct, total, naive, randomized, without agents) and resolution."""
    drivers = result.drivers
    without = {e.name: e for e in result.without_agents} if isinstance(result.without_agents, list) else {}
    hint = _agents_hint(drivers)
    agents_out = "expected where agents confound: agents are not held fixed"
    checks = []
    speed_truth = truth.get("csat_per_doubling_response_time")
    if speed_truth is not None:
        group = f"speed (true {number(speed_truth, 3, signed=True)} per doubling)"
        checks += [TruthCheck(group, "adjusted", "adjusted speed", drivers.get("csat_per_doubling_adjusted"), speed_truth,
                              hint=hint),
                   TruthCheck(group, "naive", "naive speed", drivers.naive, speed_truth,
                              expected="expected: nothing is held fixed")]
        if "csat_per_doubling_without_agents" in without:
            checks.append(TruthCheck(group, "agents-not-held-fixed", "speed without agents",
                                     without["csat_per_doubling_without_agents"], speed_truth, expected=agents_out))
    total = next((e for e in drivers.adjusted if e.name == "csat_per_doubling_total_adjusted"), None)
    total_truth = truth.get("csat_total_per_doubling_response_time")
    if total is not None and total_truth is not None:
        group = f"total speed, resolution not held fixed (true {number(total_truth, 3, signed=True)} per doubling)"
        checks.append(TruthCheck(group, "adjusted", "adjusted total speed", total, total_truth, hint=hint))
    randomized_truth = truth.get("csat_per_doubling_randomized_respondents", speed_truth)
    if result.randomized is not None and randomized_truth is not None:
        group = (f"randomized speed among respondents (true {number(randomized_truth, 3, signed=True)} per doubling: "
                 "the SLA also changed who answers)")
        checks.append(TruthCheck(group, "", "randomized speed", result.randomized, randomized_truth))
    resolved = next((e for e in drivers.adjusted if e.name == "csat_resolved_adjusted"), None)
    resolved_truth = truth.get("csat_resolved")
    if resolved is not None and resolved_truth is not None:
        group = f"resolution (true {number(resolved_truth, 2, signed=True)} points)"
        checks.append(TruthCheck(group, "adjusted", "adjusted resolution", resolved, resolved_truth, hint=hint))
        if "csat_resolved_without_agents" in without:
            checks.append(TruthCheck(group, "agents-not-held-fixed", "resolution without agents",
                                     without["csat_resolved_without_agents"], resolved_truth, expected=agents_out))
    return checks


def _agents_hint(drivers) -> str:
    """Where an adjusted miss may come from, when the model could not hold agents fixed."""
    notes = [n for n in getattr(getattr(drivers, "held", None), "fixed_effect_notes", []) if "not held fixed" in n]
    return (notes[0][:1].upper() + notes[0][1:] + ".") if notes else ""
