"""Findings of the A/B wing (04, 05) in words: design checks and effects, written from the estimates of a run."""

from __future__ import annotations

from study.core.findings import Finding, Findings, skipped
from study.core.words import (
    METRIC_WORDS,
    covers_words,
    number,
    p_value,
    pct,
    points,
    text,
    with_interval,
)

SRM = "sample_ratio_chi2"  # the results file's name of the sample-ratio check
# Headings of 04's and 05's sections that show the evidence of a headline (the index links to them).
DESIGN, EFFECTS = "Design checks", "Effects"


def _names(effect, lift: bool = True) -> tuple[str, ...]:
    """Names of an effect's estimates in the results file: the difference, and its relative lift."""
    names = (effect.difference_estimate().name,)
    return names + (effect.lift_estimate().name,) if lift and effect.lift is not None else names


def ab_test(srm, effects, truth: dict | None = None, bounds=None, spend_robust=None) -> Findings:
    """Findings of the SLA experiment, from the customer-level comparisons that also feed its table,
    its figure and its results file.

    Parameters
    ----------
    srm : study.ab.design.SampleRatioCheck
    effects : study.ab.sla.Effects
        Customer-level effects (:func:`study.ab.sla.sla_effects`); ``effects.skipped`` names those that
        could not be estimated.
    truth : dict, optional
    bounds : study.ab.bounds.LeeBounds, optional
        Lee bounds of the CSAT effect, quoted when the SLA moved the survey response rate.
    spend_robust : list of Effect, optional
        Follow-up spend by methods robust to heavy tails: whether they agree is said.
    """
    lines = []
    split = ", ".join(f"{text(arm)} {n:,}" for arm, n in srm.counts.items())
    if not sum(srm.counts.values()):
        lines.append(skipped("sample-ratio check", f"no customer is left in the experiment ({split})", headline=True))
    elif srm.mismatch:
        lines.append(Finding(
            f"⚠️ **Sample ratio mismatch — do not trust the results below.** Customers per arm ({split}) differ "
            f"from the planned split ({_against_alarm(srm)}). Find the cause (assignment, logging, filtering) first.",
            (SRM,), "warning", headline=True, section=DESIGN))
    else:
        lines.append(Finding(f"**Design check passed.** Customers per arm: {split}; consistent with the planned split "
                             f"({_against_alarm(srm)}, chi-square).", (SRM,), "check", headline=True, section=DESIGN))
    whole = {e.metric: e for e in effects if not e.segment}
    speed = whole.get("response_log2_hours")
    if speed is not None:
        lines.append(Finding(f"**The SLA was delivered.** Treated tickets got their first reply {2 ** (-speed.estimate):.2f} "
                             f"times faster (log2 hours {with_interval(speed.difference_estimate())}).", _names(speed, False)))
    csat = whole.get("csat")
    if csat is not None:
        lines.append(Finding(
            f"**CSAT.** {csat.treatment_value:.2f} with the faster SLA against {csat.control_value:.2f} without: "
            f"{with_interval(csat.difference_estimate())} points, {p_value(csat.p_value)}; relative lift "
            f"{with_interval(csat.lift_estimate(), 'pct')}. {_who_answers(whole.get('survey_response'), bounds)}",
            _names(csat) + _names(whole["survey_response"], False) if "survey_response" in whole else _names(csat),
            headline=True, section=EFFECTS))
    repeat = whole.get("repeat_purchase")
    if repeat is not None:
        lines.append(Finding(
            f"**Repeat purchase.** {pct(repeat.treatment_value)} against {pct(repeat.control_value)}: "
            f"{with_interval(repeat.difference_estimate(), 'pp')}, {p_value(repeat.p_value)}; relative lift "
            f"{with_interval(repeat.lift_estimate(), 'pct')}.", _names(repeat), headline=True, section=EFFECTS))
    if isinstance(spend_robust, list):
        lines += _robust_findings(spend_robust)
    for metric, reason in getattr(effects, "skipped", {}).items():
        lines.append(skipped(f"comparison of {METRIC_WORDS.get(metric, metric.replace('_', ' '))}", reason,
                             headline=metric in ("csat", "repeat_purchase")))
    if truth is not None and csat is not None and repeat is not None:
        lines.append(Finding(
            f"**Check against the simulation's truth:** CSAT effect {number(truth['sla_effect_on_csat'], 3, signed=True)} "
            f"(the interval {covers_words(csat.difference_estimate(), truth['sla_effect_on_csat'])} it), "
            f"repeat-purchase effect {points(truth['sla_effect_on_repeat_purchase'], 2)} "
            f"(the interval {covers_words(repeat.difference_estimate(), truth['sla_effect_on_repeat_purchase'])} it).",
            kind="truth"))
    return Findings(lines)


def _monitoring(effects, primary: str | None) -> list[Finding]:
    """Which look of the plan this run is, and whether the primary metric may be called at it."""
    looks = [e for e in effects if e.metric == primary and e.extra.get("sequential")]
    if not looks:
        return []
    facts = looks[0].extra["sequential"]
    progress = f"{facts['units']:,} of {facts['planned_units']:,} planned units"
    if facts["method"] == "always_valid":
        where = f"read at {progress} with always-valid intervals (any look, any number of looks)"
    else:
        where = (f"look {facts['look']} of {facts['looks']} ({progress}; "
                 f"{'Pocock' if facts.get('spending') == 'pocock' else 'O' + chr(39) + 'Brien-Fleming'}-type spending)")
    called = [f"{text(e.treatment)}: {'called' if e.extra['sequential']['significant'] else 'not yet'}" for e in looks]
    return [Finding(f"**Monitoring plan.** This run is {where}; the primary metric {text(primary)} may be called only "
                    f"when it crosses the plan's boundary ({'; '.join(called)}). The fixed-horizon p-values above "
                    "hold only at the planned end.", headline=True, section=EFFECTS)]


def itt_name(name: str) -> str:
    """The results-file name of an intention-to-treat estimate: ``converted_itt_effect_b_vs_a``."""
    for kind in ("_effect_", "_relative_lift_"):
        if kind in name:
            return name.replace(kind, f"_itt{kind}", 1)
    return f"{name}_itt"


def _per_protocol(result, primary: str | None, kinds: dict) -> Finding:
    """What setting aside units for their exposure does to the causal claim, and the comparison that keeps it."""
    as_assigned = [e for e in result.itt_effects if e.metric == primary]
    said = "; ".join(f"{text(e.treatment)} vs {text(e.control)} "
                     f"{with_interval(e.difference_estimate(), 'pp' if kinds.get(e.metric) == 'proportion' else 'value')}, "
                     f"{p_value(e.p_value)}" for e in as_assigned)
    return Finding(
        f"**Per protocol, not as randomized.** {result.exposure_mismatches:,} rows whose exposure disagreed with their arm "
        "are set aside above, so those comparisons keep only the units that saw what they were assigned: randomization "
        "does not protect that selection, and they are not a clean causal effect. Every unit as assigned (intention to "
        f"treat, randomized) gives for {text(primary)}: {said}. Segment results below are exploratory." if as_assigned else
        f"**Per protocol, not as randomized.** {result.exposure_mismatches:,} rows whose exposure disagreed with their arm "
        "are set aside above; the intention-to-treat comparison is in the table below. Segment results below are "
        "exploratory.",
        tuple(itt_name(e.difference_estimate().name) for e in as_assigned), headline=True, section=EFFECTS)


ROBUST_WORDS = {"welch_t": "Welch", "winsorized_welch_t": "winsorized at the 99th percentile",
                "yuen_t": "10% trimmed means (Yuen)", "mann_whitney_u": "Mann-Whitney",
                "bootstrap_percentile": "bootstrap"}


def _robust_findings(effects) -> list[Finding]:
    """For each metric marked robust and each arm: every method's p-value, and whether they agree."""
    groups = {}
    for e in effects:
        groups.setdefault((e.metric, e.treatment, e.control), []).append(e)
    lines = []
    for (metric, treatment, control), group in groups.items():
        alpha = group[0].alpha
        shown = [e for e in group if e.p_value is not None or e.ci_low is not None]
        said = "; ".join(f"{ROBUST_WORDS.get(e.method_code, e.method_code)} " + (
            p_value(e.p_value) if e.p_value is not None else
            f"{1 - alpha:.0%} CI {number(e.ci_low, 2, signed=True)} to {number(e.ci_high, 2, signed=True)}") for e in shown)
        verdicts = {(e.p_value < alpha) if e.p_value is not None else (e.ci_low > 0 or e.ci_high < 0)
                    for e in shown}
        agree = (f"they agree at the {alpha:g} level." if len(verdicts) == 1 else
                 f"they disagree at the {alpha:g} level: a few extreme units may drive the mean, so read the mean's "
                 "effect with caution.")
        name = group[0].label or metric
        lines.append(Finding(f"**{text(name)}, {text(treatment)} vs {text(control)}, methods robust to heavy tails.** "
                             f"{said}: {agree}"))
    return lines


def _against_alarm(check) -> str:
    """'p = 0.009, above the 0.001 alarm level': a passed check says how close it came."""
    side = "below" if check.p_value < check.alpha else "above"
    return f"{p_value(check.p_value)}, {side} the {check.alpha:g} alarm level"


def _who_answers(response, bounds=None) -> str:
    """What a CSAT comparison among respondents means, given the SLA's effect on who answers the survey."""
    if response is None:
        return ("CSAT is known only for tickets with a survey answer, and the data cannot show whether the SLA "
                "changed who answers: read it as a comparison of respondents.")
    moved = response.difference_estimate()
    if moved.ci_low > 0 or moved.ci_high < 0:
        return (f"CSAT is known only for tickets with a survey answer, and the SLA changed the response rate by "
                f"{with_interval(moved, 'pp')} ({p_value(response.p_value)}): the arms' respondents are different "
                "people, so this difference mixes the SLA's effect on satisfaction with a change in who answers, "
                "and it is not a causal effect, not even for respondents." + (
                    f" For customers who would answer under either arm, the effect on a customer's mean CSAT lies "
                    f"between {number(bounds.lower, signed=True)} and {number(bounds.upper, signed=True)} points "
                    f"({1 - bounds.alpha:.0%} CI {number(bounds.ci_low, signed=True)} to {number(bounds.ci_high, signed=True)}; "
                    "Lee bounds, assuming the SLA moved answering in one direction only)." if bounds else ""))
    return (f"Randomized; the SLA did not detectably change who answers the survey (response rate "
            f"{with_interval(moved, 'pp')}), so the comparison among respondents is not distorted by a change "
            "in who answers that this experiment could detect.")


def srm(check) -> str:
    """One sentence on the sample-ratio test."""
    if not sum(check.counts.values()):
        return ""
    verdict = "**mismatch: do not trust the effects**" if check.mismatch else "no mismatch"
    return (f"Chi-square {check.chi2:.2f}, {p_value(check.p_value)}, alarm below p = {check.alpha:g}: {verdict}.")


def assignment(experiment) -> str:
    """What the assignment check found and what was done with it (:func:`study.data.experiment.experiment_rows`)."""
    earlier = getattr(experiment, "set_aside", {})  # left out before the experiment: not the assignment's doing
    dropped = {reason: n for reason, n in experiment.ledger.as_dict()["dropped"].items() if reason not in earlier}
    if not dropped:
        return "**Assignment check passed.** Every ticket has a known arm, and every customer is in one arm only."
    parts = [f"{n:,} tickets set aside: {reason}" for reason, n in dropped.items()]
    several = experiment.units_in_several_arms
    return ("**Assignment check.** " + "; ".join(parts) + "."
            + (f" {several:,} customers appeared in more than one arm: their assignment cannot be known, so all their "
               "tickets are left out." if several else ""))


def experiment_table(result) -> Findings:
    """Findings of :func:`study.ab.experiment_table.analyse`; the effects of the primary metric (the
    column map's first) are headlines."""
    srm = result.srm
    split = ", ".join(f"{text(arm)} {n:,}" for arm, n in srm.counts.items())
    if srm.mismatch:
        lines = [Finding(f"⚠️ **Sample ratio mismatch — do not trust the results below.** Units per arm ({split}) differ "
                         f"from the planned split ({_against_alarm(srm)}). Find the cause (assignment, logging, "
                         "filtering) first.", (SRM,), "warning", headline=True, section=DESIGN)]
    else:
        lines = [Finding(f"**Design check passed.** Units per arm: {split}; consistent with the planned split "
                         f"({_against_alarm(srm)}, chi-square).", (SRM,), "check", headline=True, section=DESIGN)]
    rows = result.ledger.as_dict()
    if rows["dropped"]:
        lines.append(Finding(f"**Data clean-up.** {rows['in'] - rows['used']:,} of {rows['in']:,} rows set aside: "
                             + "; ".join(f"{n:,} {text(reason)}" for reason, n in rows["dropped"].items()) + "."))
    primary = result.mapping.metrics[0] if result.mapping.metrics else None
    kinds = {metric.name: metric.kind for metric in result.aggregates.metrics}
    for effect in result.effects:
        holm = effect.adjusted_p_values.get("holm")
        # The verdict adjusts the primary metric across arms only; this family is wider, and says so.
        family = effect.adjusted_p_values.get("family_size", "all")
        unit = "pp" if kinds.get(effect.metric) == "proportion" else "value"
        value = points(effect.estimate) if unit == "pp" else number(effect.estimate, 2, signed=True)
        low = points(effect.ci_low)[:-3] if unit == "pp" else number(effect.ci_low, 2, signed=True)
        high = points(effect.ci_high) if unit == "pp" else number(effect.ci_high, 2, signed=True)
        lift = f"; relative lift {pct(effect.lift, signed=True)}" if effect.lift is not None else ""
        lines.append(Finding(
            f"**{text(effect.metric)}, {text(effect.treatment)} vs {text(effect.control)}.** {value} ({1 - effect.alpha:.0%} CI {low} to {high}), "
            f"{p_value(effect.p_value)}" + (f", Holm-adjusted across {family} comparisons (every arm and metric) "
                                             f"{p_value(holm)}" if holm is not None else "") + f"{lift}.",
            _names(effect), headline=effect.metric == primary, section=EFFECTS))
    lines += _monitoring(result.effects, primary)
    lines += _robust_findings(result.robust_effects)
    lines.append(_per_protocol(result, primary, kinds) if result.itt_effects else Finding(
        "Randomized comparisons: causal for the units in the experiment. Segment results below are exploratory."))
    return Findings(lines)


def unit_checks(result) -> str:
    """What the unit checks of an experiment table found, in words (:meth:`study.ab.unit_checks.UnitChecks.summary`)."""
    return text(result.checks.summary())
