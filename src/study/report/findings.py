"""Plain-language findings, written from the estimates of a run (never typed by hand)."""

from __future__ import annotations

import pandas as pd

from study.core.results import Skipped
from study.core.words import (
    METRIC_WORDS,
    bullet_list,
    covers_words,
    number,
    p_value,
    pct,
    points,
    resolution_versus_speed,
    text,
    with_interval,
)


def _controls_words(controls: list[str], also: list[str] = ()) -> str:
    """'resolution, issue category and channel held fixed' from the controls of a model."""
    names = list(also) + [{"category": "issue category"}.get(c, c.replace("_", " ")) for c in controls]
    if not controls:
        names.append("no known confounder (none is in this data)")
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} held fixed"


def skipped(section: str, reason: str) -> str:
    """One finding saying a section was skipped and why (no number is stated for it)."""
    return f"**{text(section[:1].upper() + section[1:])}: skipped.** {text(reason[:1].upper() + reason[1:])}."


def satisfaction(result, truth: dict | None = None) -> str:
    """Findings of :func:`study.regression.satisfaction.study` as Markdown; a skipped section says so, with its reason."""
    if isinstance(result.drivers, Skipped):
        return "## Findings\n\n" + bullet_list(_satisfaction_without_drivers(result))
    drivers = result.drivers
    naive = drivers.naive
    adjusted = drivers.get("csat_per_doubling_adjusted")
    resolved = next((e for e in drivers.adjusted if e.name == "csat_resolved_adjusted"), None)
    day = drivers.get("csat_24h_vs_1h_adjusted")
    lines = [
        f"**Speed.** Each doubling of the first response time changes CSAT by {with_interval(adjusted)} points "
        f"on the 1-5 scale, with {_controls_words(drivers.controls, also=['resolution'])} "
        f"({drivers.ledger.rows_used:,} answered surveys, {p_value(adjusted.p_value)}). "
        "This is an observational estimate: it adjusts for the confounders we know of, not for ones we do not.",
    ]
    if naive.covers(adjusted.value):
        lines.append(f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}; "
                     "it agrees with the adjusted estimate within its interval.")
    else:
        direction = "overstates" if abs(naive.value) > abs(adjusted.value) else "understates"
        lines.append(
            f"**Naive versus adjusted.** The naive slope, nothing held fixed, is {with_interval(naive)}: it "
            f"{direction} the effect by {abs(naive.value / adjusted.value - 1):.0%}, and its interval excludes the "
            "adjusted estimate. Complex issues take longer to answer *and* leave customers less satisfied however "
            "fast the reply, so part of the naive slope is the issue, not the wait."
        )
    randomized = result.randomized
    if randomized is not None:
        def verb(value):
            return "includes" if randomized.covers(value) else "excludes"

        lines.append(
            f"**Randomized check.** The SLA experiment, which sped up replies at random, gives {with_interval(randomized)} "
            f"per doubling. Its interval {verb(adjusted.value)} the adjusted estimate ({number(adjusted.value, signed=True)}) "
            f"and {verb(naive.value)} the naive one ({number(naive.value, signed=True)}); it is wider, because only the "
            "speed-up the experiment caused is used."
        )
    if truth is not None:
        true_value = truth["csat_per_doubling_response_time"]
        checks = [f"adjusted interval {covers_words(adjusted, true_value)} it", f"naive interval {covers_words(naive, true_value)} it"]
        if randomized is not None:
            checks.append(f"randomized interval {covers_words(randomized, true_value)} it")
        lines.append(f"**Check against the simulation's truth** ({number(true_value, 3, signed=True)} per doubling): the "
                     + "; the ".join(checks) + ".")
    if resolved is not None:
        verdict = resolution_versus_speed((resolved.ci_low, resolved.ci_high), (day.ci_low, day.ci_high))
        lines.append(
            f"**Resolution versus speed.** Resolving the problem is worth {with_interval(resolved)} CSAT points; "
            f"answering in 24 hours instead of 1 hour changes CSAT by {with_interval(day)}: "
            f"{verdict}."
        )
    curve = result.dose.curve.set_index("hours") if not isinstance(result.dose, Skipped) else pd.DataFrame()
    if 0.25 in curve.index and 4.0 in curve.index:
        lines.append(
            f"**The first hour.** Against a 1-hour reply, a 15-minute reply is worth "
            f"{number(curve.loc[0.25, 'effect'], signed=True)} points and a 4-hour reply costs "
            f"{number(curve.loc[4.0, 'effect'], signed=True)} (flexible spline fit; the figure below shows the whole curve)."
        )
    by_outcome = {e.name: e for e in result.interaction} if isinstance(result.interaction, list) else {}
    difference = by_outcome.get("csat_speed_x_resolved")
    if difference is not None:
        verdict = ("about as much" if difference.covers(0.0)
                   else ("more" if abs(by_outcome["csat_per_doubling_resolved"].value) > abs(by_outcome["csat_per_doubling_unresolved"].value) else "less"))
        lines.append(
            f"**Speed when the problem is not solved.** Speed matters {verdict} when the case is resolved "
            f"({with_interval(by_outcome['csat_per_doubling_resolved'])} per doubling) as when it is not "
            f"({with_interval(by_outcome['csat_per_doubling_unresolved'])}); difference {with_interval(difference)}."
        )
    if isinstance(result.ordered, Skipped):
        lines.append(skipped(result.ordered.section, result.ordered.reason))
    else:
        top_two = next(e for e in result.ordered.effects if e.name == "top2_per_doubling_ordered_logit")
        lines.append(f"**On the share of satisfied customers** (CSAT 4 or 5, ordered logit): each doubling of the wait "
                     f"changes it by {with_interval(top_two, 'pp')}.")
    lines += _later_sections(result)
    return "## Findings\n\n" + bullet_list(lines)


def _satisfaction_without_drivers(result) -> list[str]:
    """The findings when the main models could not run: what was skipped and why, and what still ran."""
    lines = [skipped(result.drivers.section, result.drivers.reason)]
    lines += [skipped(s.section, s.reason) for s in result.skipped
              if s is not result.drivers and s.reason != result.drivers.reason]
    return lines + _later_sections(result, skipped_said=True)


def _later_sections(result, skipped_said: bool = False) -> list[str]:
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
        lines.append(
            f"**Who answers the survey.** {who}Mean CSAT of the answers is {answered.value:.2f}; weighted back to all "
            f"tickets (inverse probability of answering) it is {weighted.value:.2f} ({weighted.ci_level:.0%} CI {weighted.ci_low:.2f} to "
            f"{weighted.ci_high:.2f}). The speed slope {moves}: {number(complete.value, signed=True)} among answers, "
            f"{number(weighted_slope.value, signed=True)} weighted."
        )
    elif not skipped_said or nonresponse.skipped != getattr(result.drivers, "reason", None):
        lines.append(skipped("survey non-response", nonresponse.skipped))
    if isinstance(result.importance, Skipped):
        if not skipped_said:
            lines.append(skipped(result.importance.section, result.importance.reason))
        return lines
    table = result.importance.table
    leaders = ", ".join(f"{row.label} {row.share_of_explained:.0%}" for row in table.head(3).itertuples())
    focus = [row.label for row in table.itertuples() if row.quadrant == "concentrate here"]
    lines.append(
        f"**Key drivers.** Of the CSAT variation the service attributes explain (R² {result.importance.r_squared:.2f}), "
        f"{leaders}." + (f" Important and under-performing, so where improvement pays most: {', '.join(focus)}." if focus else "")
    )
    return lines


def repeat_purchase(result, truth: dict | None = None) -> str:
    """Findings of :func:`study.regression.repeat.study` as Markdown; a skipped model says so, with its reason."""
    logits = result.logits
    total = logits.get("repeat_per_doubling_total")
    direct = logits.get("repeat_per_doubling_direct")
    per_point = logits.get("repeat_per_csat_point")
    resolved = next((e for e in logits.total if e.name == "repeat_resolved_total"), None)
    skipped_models = getattr(logits, "skipped_models", {})
    lines = []
    if total is not None:
        lines.append(
            f"**Speed.** Each doubling of the first response time changes the chance of buying again by "
            f"{with_interval(total, 'pp')} ({total.n:,} tickets, {p_value(total.p_value)}; logit, average marginal effect, "
            f"{_controls_words(logits.controls)}). Observational.")
    else:
        lines.append(skipped("the logit of repeat purchase without CSAT", skipped_models.get("without CSAT", "not fitted")))
    if resolved:
        lines.append(f"**Resolution.** A resolved case goes with {with_interval(resolved, 'pp')} in repeat purchase.")
    if per_point is not None and direct is not None:
        lines.append(
            f"**Satisfaction.** Among customers who answered the survey, each CSAT point goes with "
            f"{with_interval(per_point, 'pp')} in repeat purchase; holding CSAT fixed, a doubling of the wait changes "
            f"it by {with_interval(direct, 'pp')}.")
    elif skipped_models.get("with CSAT") != skipped_models.get("without CSAT"):
        lines.append(skipped("the logit of repeat purchase with CSAT", skipped_models.get("with CSAT", "not fitted")))
    mediation = result.mediation
    if not mediation.skipped:
        indirect = mediation.get("repeat_per_doubling_indirect_via_csat")
        share = mediation.get("share_of_speed_effect_via_csat")
        lines.append(
            f"**Through satisfaction.** Of the speed effect on repeat purchase among respondents, "
            f"{with_interval(indirect, 'pp')} per doubling runs through CSAT: {pct(share.value, 0)} of the total "
            f"({share.ci_level:.0%} CI {pct(share.ci_low, 0)} to {pct(share.ci_high, 0)}; mediation analysis, customer bootstrap). "
            "This split assumes nothing unmeasured drives both CSAT and buying again."
        )
    elif mediation.skipped not in skipped_models.values():
        lines.append(skipped("mediation through satisfaction", mediation.skipped))
    survival = result.survival
    if not survival.skipped:
        ratio = survival.get("repurchase_hazard_ratio_per_doubling")
        lines.append(
            f"**Time to the next purchase.** Each doubling of the wait multiplies the rate of buying again by "
            f"{ratio.value:.3f} ({ratio.ci_level:.0%} CI {ratio.ci_low:.3f} to {ratio.ci_high:.3f}; Cox model, censored at the end of "
            "the follow-up window)."
        )
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
            lines.append(
                "**Check against the simulation's truth:** "
                + "; ".join(f"{name} {points(value, 2)}: the interval {covers_words(e, value)} it" for name, e, value in checks)
                + " (the logits approximate the simulation's linear process)."
            )
    return "## Findings\n\n" + bullet_list(lines)


def ab_test(srm, effects, truth: dict | None = None) -> str:
    """Findings of the SLA experiment as Markdown, from the customer-level comparisons that also feed its table,
    its figure, its results file and the index.

    Parameters
    ----------
    srm : study.ab.design.SampleRatioCheck
    effects : study.ab.sla.Effects
        Customer-level effects (:func:`study.ab.sla.sla_effects`); ``effects.skipped`` names those that
        could not be estimated.
    truth : dict, optional
    """
    lines = []
    split = ", ".join(f"{text(arm)} {n:,}" for arm, n in srm.counts.items())
    if not sum(srm.counts.values()):
        lines.append(skipped("sample-ratio check", f"no customer is left in the experiment ({split})"))
    elif srm.mismatch:
        lines.append(
            f"⚠️ **Sample ratio mismatch — do not trust the results below.** Customers per arm ({split}) differ "
            f"from the planned split ({p_value(srm.p_value)}). Find the cause (assignment, logging, filtering) first."
        )
    else:
        lines.append(f"**Design check passed.** Customers per arm: {split}; consistent with the planned split "
                     f"({p_value(srm.p_value)}, chi-square).")
    whole = {e.metric: e for e in effects if not e.segment}
    speed = whole.get("response_log2_hours")
    if speed is not None:
        lines.append(f"**The SLA was delivered.** Treated tickets got their first reply {2 ** (-speed.estimate):.2f} times "
                     f"faster (log2 hours {with_interval(speed.difference_estimate())}).")
    csat = whole.get("csat")
    if csat is not None:
        lines.append(
            f"**CSAT.** {csat.treatment_value:.2f} with the faster SLA against {csat.control_value:.2f} without: "
            f"{with_interval(csat.difference_estimate())} points, {p_value(csat.p_value)}; relative lift "
            f"{with_interval(csat.lift_estimate(), 'pct')}. Randomized, so causal for customers who answer the survey."
        )
    repeat = whole.get("repeat_purchase")
    if repeat is not None:
        lines.append(
            f"**Repeat purchase.** {pct(repeat.treatment_value)} against {pct(repeat.control_value)}: "
            f"{with_interval(repeat.difference_estimate(), 'pp')}, {p_value(repeat.p_value)}; relative lift "
            f"{with_interval(repeat.lift_estimate(), 'pct')}."
        )
    for metric, reason in getattr(effects, "skipped", {}).items():
        lines.append(skipped(f"comparison of {METRIC_WORDS.get(metric, metric.replace('_', ' '))}", reason))
    if truth is not None and csat is not None and repeat is not None:
        lines.append(
            f"**Check against the simulation's truth:** CSAT effect {number(truth['sla_effect_on_csat'], 3, signed=True)} "
            f"(the interval {covers_words(csat.difference_estimate(), truth['sla_effect_on_csat'])} it), "
            f"repeat-purchase effect {points(truth['sla_effect_on_repeat_purchase'], 2)} "
            f"(the interval {covers_words(repeat.difference_estimate(), truth['sla_effect_on_repeat_purchase'])} it)."
        )
    return "## Findings\n\n" + bullet_list(lines)


def overview(facts) -> str:
    """Findings of the data overview as Markdown (descriptive only).

    Parameters
    ----------
    facts : study.data.overview.Overview
        :func:`study.data.overview.summarize` output.
    """
    headline, by_band, by_resolution = facts.headline, facts.by_band, facts.by_resolution
    estimates = {e.name: e for e in headline}
    csat, answered, repeat = estimates["csat_mean"], estimates["survey_response_rate"], estimates["repeat_purchase_rate"]
    lines = [
        f"**The data.** {facts.tickets:,} tickets from {facts.customers:,} customers"
        + (f", opened {facts.first_opened:%d %b %Y} to {facts.last_opened:%d %b %Y}"
           if facts.first_opened is not None else "") + ".",
        f"**Speed.** Half of the tickets got a first reply within "
        f"{estimates['median_first_response_minutes'].value:.0f} minutes; "
        f"{facts.over_a_day:.1%} waited more than a day.",
        f"**Satisfaction.** {pct(answered.value)} of tickets have a CSAT answer; their mean is {csat.value:.2f} "
        f"({csat.ci_level:.0%} CI {csat.ci_low:.2f} to {csat.ci_high:.2f}) on the 1-5 scale. "
        f"{pct(repeat.value)} of tickets were followed by a repeat purchase.",
    ]
    fastest, slowest = by_band.index[0], by_band.index[-1]
    lines.append(
        f"**Speed and satisfaction, before any adjustment.** Tickets answered {fastest} have a mean CSAT of "
        f"{by_band.loc[fastest, 'csat mean']:.2f}, those answered {slowest} {by_band.loc[slowest, 'csat mean']:.2f}; "
        f"repeat purchase {pct(by_band.loc[fastest, 'repeat_purchase mean'])} against "
        f"{pct(by_band.loc[slowest, 'repeat_purchase mean'])}. These are raw comparisons: slow tickets are also the "
        "harder ones, so the analyses that follow hold the known confounders fixed."
    )
    if {True, False} <= set(by_resolution.index):
        lines.append(
            f"**Resolution.** Resolved cases average CSAT {by_resolution.loc[True, 'csat mean']:.2f} against "
            f"{by_resolution.loc[False, 'csat mean']:.2f} for unresolved ones."
        )
    if answered.value < 1:
        unanswered_band = by_band["csat answers"] / by_band["tickets"]
        lines.append(
            f"**Who answers the survey.** Response rates run from {unanswered_band.min():.0%} to "
            f"{unanswered_band.max():.0%} across response-time bands: answers are not a random sample of tickets."
        )
    return "## Findings\n\n" + bullet_list(lines)


def srm(check) -> str:
    """One sentence on the sample-ratio test."""
    if not sum(check.counts.values()):
        return ""
    verdict = "**mismatch: do not trust the effects**" if check.mismatch else "no mismatch"
    return (f"Chi-square {check.chi2:.2f}, {p_value(check.p_value)}, alarm below p = {check.alpha:g}: {verdict}.")


def assignment(experiment) -> str:
    """What the assignment check found and what was done with it (:func:`study.data.experiment.experiment_rows`)."""
    dropped = experiment.ledger.as_dict()["dropped"]
    if not dropped:
        return "**Assignment check passed.** Every ticket has a known arm, and every customer is in one arm only."
    parts = [f"{n:,} tickets set aside: {reason}" for reason, n in dropped.items()]
    several = experiment.units_in_several_arms
    return ("**Assignment check.** " + "; ".join(parts) + "."
            + (f" {several:,} customers appeared in more than one arm: their assignment cannot be known, so all their "
               "tickets are left out." if several else ""))


def experiment_table(result) -> str:
    """Findings of :func:`study.ab.experiment_table.analyse` as Markdown."""
    srm = result.srm
    split = ", ".join(f"{text(arm)} {n:,}" for arm, n in srm.counts.items())
    if srm.mismatch:
        lines = [f"⚠️ **Sample ratio mismatch — do not trust the results below.** Units per arm ({split}) differ from the "
                 f"planned split ({p_value(srm.p_value)}). Find the cause (assignment, logging, filtering) first."]
    else:
        lines = [f"**Design check passed.** Units per arm: {split}; consistent with the planned split ({p_value(srm.p_value)})."]
    rows = result.ledger.as_dict()
    if rows["dropped"]:
        lines.append(f"**Data clean-up.** {rows['in'] - rows['used']:,} of {rows['in']:,} rows set aside: "
                     + "; ".join(f"{n:,} {text(reason)}" for reason, n in rows["dropped"].items()) + ".")
    kinds = {metric.name: metric.kind for metric in result.aggregates.metrics}
    for effect in result.effects:
        holm = effect.adjusted_p_values.get("holm")
        unit = "pp" if kinds.get(effect.metric) == "proportion" else "value"
        value = points(effect.estimate) if unit == "pp" else number(effect.estimate, 3, signed=True)
        low = points(effect.ci_low) if unit == "pp" else number(effect.ci_low, 3, signed=True)
        high = points(effect.ci_high) if unit == "pp" else number(effect.ci_high, 3, signed=True)
        lift = f"; relative lift {pct(effect.lift, signed=True)}" if effect.lift is not None else ""
        lines.append(
            f"**{text(effect.metric)}, {text(effect.treatment)} vs {text(effect.control)}.** {value} ({1 - effect.alpha:.0%} CI {low} to {high}), "
            f"{p_value(effect.p_value)}" + (f", Holm-adjusted {p_value(holm)}" if holm is not None else "") + f"{lift}."
        )
    lines.append("Randomized comparisons: causal for the units in the experiment. Segment results below are exploratory.")
    return "## Findings\n\n" + bullet_list(lines)


def model_sample(data) -> str:
    """A note that the models fit on a customer sample, or ``""`` when they use every ticket.

    Parameters
    ----------
    data : study.data.dataset.TicketData
        As returned by :func:`study.data.dataset.load_tickets` with ``max_tickets``.
    """
    if not data.set_aside:
        return ""
    total = len(data.tickets) + sum(data.set_aside.values())
    reasons = "; ".join(text(reason) for reason in data.set_aside)
    return (f"**Models fit on a random sample** of {len(data.tickets):,} of {total:,} tickets ({reasons}). "
            "The data set is larger than the models need for precise estimates, and a sample keeps the run "
            "fast; the same data and seed give the same sample. Raise `model_tickets` (0 = every ticket) to "
            "fit on more. The data overview and the SLA experiment use every ticket.")


def unit_checks(result) -> str:
    """What the unit checks of an experiment table found, in words (:meth:`study.ab.unit_checks.UnitChecks.summary`)."""
    return text(result.checks.summary())
