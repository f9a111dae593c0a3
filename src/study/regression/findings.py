"""Findings of the regression wing (02, 03) in words, written from the estimates of a run."""

from __future__ import annotations

import pandas as pd

from study.core.findings import Finding, Findings, skipped
from study.core.results import Skipped
from study.core.words import (
    covers_words,
    number,
    p_value,
    pct,
    points,
    resolution_versus_speed,
    with_interval,
)


def _controls_words(controls: list[str], also: list[str] = ()) -> str:
    """'resolution, issue category and channel held fixed' from the controls of a model."""
    names = list(also) + [{"category": "issue category"}.get(c, c.replace("_", " ")) for c in controls]
    if not controls:
        names.append("no known confounder (none is in this data)")
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} held fixed"


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
        f"**Speed.** Each doubling of the first response time changes CSAT by {with_interval(adjusted)} points "
        f"on the 1-5 scale, with {_controls_words(drivers.controls, also=['resolution'])} "
        f"({drivers.ledger.rows_used:,} answered surveys, {p_value(adjusted.p_value)}). "
        "This is an observational estimate: it adjusts for the confounders we know of, not for ones we do not.",
        (adjusted.name,), headline=True)]
    if naive.covers(adjusted.value):
        lines.append(Finding(f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}; "
                             "it agrees with the adjusted estimate within its interval.", (naive.name, adjusted.name),
                             headline=True))
    else:
        direction = "overstates" if abs(naive.value) > abs(adjusted.value) else "understates"
        lines.append(Finding(
            f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}: it "
            f"{direction} the effect by {abs(naive.value / adjusted.value - 1):.0%}, and its interval excludes the "
            "adjusted estimate. Complex issues take longer to answer *and* leave customers less satisfied however "
            "fast the reply, so part of the naive slope is the issue, not the wait.", (naive.name, adjusted.name),
            headline=True))
    randomized = result.randomized
    if randomized is not None:
        def verb(value):
            return "includes" if randomized.covers(value) else "excludes"

        lines.append(Finding(
            f"**Randomized check.** The SLA experiment, which sped up replies at random, gives {with_interval(randomized)} "
            f"per doubling. Its interval {verb(adjusted.value)} the adjusted estimate ({number(adjusted.value, signed=True)}) "
            f"and {verb(naive.value)} the naive one ({number(naive.value, signed=True)}); it is wider, because only the "
            "speed-up the experiment caused is used.", (randomized.name, adjusted.name, naive.name), headline=True))
    if truth is not None:
        true_value = truth["csat_per_doubling_response_time"]
        checks = [f"adjusted interval {covers_words(adjusted, true_value)} it", f"naive interval {covers_words(naive, true_value)} it"]
        if randomized is not None:
            checks.append(f"randomized interval {covers_words(randomized, true_value)} it")
        lines.append(Finding(f"**Check against the simulation's truth** ({number(true_value, 3, signed=True)} per doubling): "
                             "the " + "; the ".join(checks) + ".", kind="truth"))
    if resolved is not None:
        verdict = resolution_versus_speed((resolved.ci_low, resolved.ci_high), (day.ci_low, day.ci_high))
        lines.append(Finding(
            f"**Resolution versus speed.** Resolving the problem is worth {with_interval(resolved)} CSAT points; "
            f"answering in 24 hours instead of 1 hour changes CSAT by {with_interval(day)}: "
            f"{verdict}.", (resolved.name, day.name), headline=True))
    curve = result.dose.curve.set_index("hours") if not isinstance(result.dose, Skipped) else pd.DataFrame()
    if 0.25 in curve.index and 4.0 in curve.index:
        lines.append(Finding(
            f"**The first hour.** Against a 1-hour reply, a 15-minute reply is worth "
            f"{number(curve.loc[0.25, 'effect'], signed=True)} points and a 4-hour reply costs "
            f"{number(curve.loc[4.0, 'effect'], signed=True)} (flexible spline fit; the figure below shows the whole curve)."))
    by_outcome = {e.name: e for e in result.interaction} if isinstance(result.interaction, list) else {}
    difference = by_outcome.get("csat_speed_x_resolved")
    if difference is not None:
        verdict = ("about as much" if difference.covers(0.0)
                   else ("more" if abs(by_outcome["csat_per_doubling_resolved"].value) > abs(by_outcome["csat_per_doubling_unresolved"].value) else "less"))
        lines.append(Finding(
            f"**Speed when the problem is not solved.** Speed matters {verdict} when the case is resolved "
            f"({with_interval(by_outcome['csat_per_doubling_resolved'])} per doubling) as when it is not "
            f"({with_interval(by_outcome['csat_per_doubling_unresolved'])}); difference {with_interval(difference)}.",
            ("csat_per_doubling_resolved", "csat_per_doubling_unresolved", difference.name)))
    if isinstance(result.ordered, Skipped):
        lines.append(skipped(result.ordered.section, result.ordered.reason))
    else:
        top_two = next(e for e in result.ordered.effects if e.name == "top2_per_doubling_ordered_logit")
        lines.append(Finding(f"**On the share of satisfied customers** (CSAT 4 or 5, ordered logit): each doubling of the "
                             f"wait changes it by {with_interval(top_two, 'pp')}.", (top_two.name,)))
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
    focus = [row.label for row in table.itertuples() if row.quadrant == "concentrate here"]
    lines.append(Finding(
        f"**Key drivers.** Of the CSAT variation the service attributes explain (R² {result.importance.r_squared:.2f}), "
        f"{leaders}." + (f" Important and under-performing, so where improvement pays most: {', '.join(focus)}." if focus else "")))
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
            f"**Speed.** Each doubling of the first response time changes the chance of buying again by "
            f"{with_interval(total, 'pp')} ({total.n:,} tickets, {p_value(total.p_value)}; logit, average marginal effect, "
            f"{_controls_words(logits.controls)}). Observational.", (total.name,), headline=True))
    else:
        lines.append(skipped("the logit of repeat purchase without CSAT", skipped_models.get("without CSAT", "not fitted"),
                             headline=True))
    if resolved:
        lines.append(Finding(f"**Resolution.** A resolved case goes with {with_interval(resolved, 'pp')} in repeat purchase.",
                             (resolved.name,)))
    if per_point is not None and direct is not None:
        lines.append(Finding(
            f"**Satisfaction.** Among customers who answered the survey, each CSAT point goes with "
            f"{with_interval(per_point, 'pp')} in repeat purchase; holding CSAT fixed, a doubling of the wait changes "
            f"it by {with_interval(direct, 'pp')}.", (per_point.name, direct.name)))
    elif skipped_models.get("with CSAT") != skipped_models.get("without CSAT"):
        lines.append(skipped("the logit of repeat purchase with CSAT", skipped_models.get("with CSAT", "not fitted")))
    mediation = result.mediation
    if not mediation.skipped:
        indirect = mediation.get("repeat_per_doubling_indirect_via_csat")
        share = mediation.get("share_of_speed_effect_via_csat")
        lines.append(Finding(
            f"**Through satisfaction.** Of the speed effect on repeat purchase among respondents, "
            f"{with_interval(indirect, 'pp')} per doubling runs through CSAT: {pct(share.value, 0)} of the total "
            f"({share.ci_level:.0%} CI {pct(share.ci_low, 0)} to {pct(share.ci_high, 0)}; mediation analysis, customer bootstrap). "
            "This split assumes nothing unmeasured drives both CSAT and buying again.", (indirect.name, share.name),
            headline=True))
    elif mediation.skipped not in skipped_models.values():
        lines.append(skipped("mediation through satisfaction", mediation.skipped, headline=True))
    survival = result.survival
    if not survival.skipped:
        ratio = survival.get("repurchase_hazard_ratio_per_doubling")
        lines.append(Finding(
            f"**Time to the next purchase.** Each doubling of the wait multiplies the rate of buying again by "
            f"{ratio.value:.3f} ({ratio.ci_level:.0%} CI {ratio.ci_low:.3f} to {ratio.ci_high:.3f}; Cox model, censored at the end of "
            "the follow-up window).", (ratio.name,)))
    elif survival.skipped not in skipped_models.values():
        lines.append(skipped("time to the next purchase", survival.skipped))
    if truth is not None:
        checks = [
            (name, e, truth[key]) for name, e, key in (
                ("total", total, "repeat_total_per_doubling_response_time"),
                ("direct", direct, "repeat_direct_per_doubling_response_time"),
                ("per CSAT point", per_point, "repeat_per_csat_point"),
            ) if e is not None
        ]
        if not mediation.skipped:
            checks.append(("indirect", mediation.get("repeat_per_doubling_indirect_via_csat"),
                           truth["repeat_indirect_per_doubling_response_time"]))
        if checks:
            lines.append(Finding(
                "**Check against the simulation's truth:** "
                + "; ".join(f"{name} {points(value, 2)}: the interval {covers_words(e, value)} it" for name, e, value in checks)
                + " (the logits approximate the simulation's linear process).", kind="truth"))
    return Findings(lines)
