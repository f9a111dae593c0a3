"""Findings of the data overview (01) in words: descriptive, nothing adjusted."""

from __future__ import annotations

from study.core.accounting import SAMPLE_REASON_START
from study.core.findings import Finding, Findings
from study.core.words import pct, text
from study.data.descriptives import MEASURES


def overview(facts) -> Findings:
    """Findings of the data overview (descriptive only); the satisfaction baseline is the headline.

    Parameters
    ----------
    facts : study.data.overview.Overview
        :func:`study.data.overview.summarize` output.
    """
    estimates = {e.name: e for e in facts.headline}
    lines = [
        Finding(f"**The data.** {facts.tickets:,} tickets"
                + (f" from {facts.customers:,} customers" if facts.customers is not None else "")
                + (f", opened {facts.first_opened:%d %b %Y} to {facts.last_opened:%d %b %Y}"
                   if facts.first_opened is not None else "") + "."),
    ]
    lines += _left_out(facts)
    lines += [Finding(f"**Check the unit of {column}.** Its {note}.", kind="warning")
              for column, note in getattr(facts, "doubts", {}).items()]
    if "median_first_response_minutes" in estimates:
        lines.append(Finding(
            f"**Speed.** Half of the tickets got a first reply within "
            f"{estimates['median_first_response_minutes'].value:.0f} minutes; "
            f"{facts.over_a_day:.1%} waited more than a day.", ("median_first_response_minutes",)))
    answered, csat, repeat = (estimates.get(n) for n in ("survey_response_rate", "csat_mean", "repeat_purchase_rate"))
    outcome_words = []
    if csat is not None:
        outcome_words.append(f"{pct(answered.value)} of tickets have a CSAT answer; their mean is {csat.value:.2f} "
                             f"({csat.ci_level:.0%} CI {csat.ci_low:.2f} to {csat.ci_high:.2f}) on the 1-5 scale.")
    if repeat is not None:
        outcome_words.append(f"{pct(repeat.value)} of tickets were followed by a repeat purchase.")
    if outcome_words:
        lines.append(Finding("**Satisfaction.** " + " ".join(outcome_words),
                             tuple(e.name for e in (answered, csat, repeat) if e is not None), headline=True,
                             section="Satisfaction and repeat purchase by response time"))
    by_band, by_resolution = facts.by_band, facts.by_resolution
    outcomes = [] if not facts.has("by_band") else [
        (column, words) for column, words in (("csat mean", "a mean CSAT of"), ("repeat_purchase mean", "repeat purchase"))
        if column in by_band.columns and by_band[column].notna().sum() >= 2]
    if outcomes:
        fastest, slowest = by_band.index[0], by_band.index[-1]

        def shown(column, value):
            return f"{value:.2f}" if column == "csat mean" else pct(value)

        comparisons = "; ".join(f"{words} {shown(column, by_band.loc[fastest, column])} against "
                                f"{shown(column, by_band.loc[slowest, column])}" for column, words in outcomes)
        lines.append(Finding(
            f"**Speed and outcomes, before any adjustment.** Tickets answered {fastest} against those answered "
            f"{slowest}: {comparisons}. These are raw comparisons: slow tickets are also the harder ones, so the "
            "analyses that follow hold the known confounders fixed."))
    if facts.has("by_resolution") and {True, False} <= set(by_resolution.index) and "csat mean" in by_resolution.columns:
        lines.append(Finding(
            f"**Resolution.** Resolved cases average CSAT {by_resolution.loc[True, 'csat mean']:.2f} against "
            f"{by_resolution.loc[False, 'csat mean']:.2f} for unresolved ones."))
    if answered is not None and answered.value < 1 and facts.has("by_band") and "csat answers" in by_band.columns:
        unanswered_band = by_band["csat answers"] / by_band["tickets"]
        lines.append(Finding(
            f"**Who answers the survey.** Response rates run from {unanswered_band.min():.0%} to "
            f"{unanswered_band.max():.0%} across response-time bands: answers are not a random sample of tickets."))
    return Findings(lines)


def _left_out(facts) -> list[Finding]:
    """A finding counting the rows set aside and the tickets without a measure, when there are any."""
    parts = [f"{n:,} rows were set aside ({text(reason)})" for reason, n in facts.set_aside.items() if n]
    parts += [f"{facts.tickets - n:,} tickets have no {MEASURES[column][0].split(' ', 1)[1]} and are left "
              f"out of {MEASURES[column][1]}" for column, n in facts.measured.items()
              if n < facts.tickets and column != "csat"]
    parts += [f"every ticket with a value has {column} = {value}, so it describes nothing and is left out of the "
              "figures (a placeholder column?)" for column, value in facts.constant.items()]
    return [Finding("**Left out.** " + "; ".join(parts) + ".")] if parts else []


def model_sample(data) -> str:
    """A note on the tickets left out before the models: a customer sample, rows a column map's filter
    excluded; ``""`` when the models use every ticket read.

    Parameters
    ----------
    data : study.data.dataset.TicketData
        As returned by :func:`study.data.dataset.load_tickets` with ``max_tickets``.
    """
    if not data.set_aside:
        return ""
    sampled = {reason: n for reason, n in data.set_aside.items() if reason.startswith(SAMPLE_REASON_START)}
    excluded = {reason: n for reason, n in data.set_aside.items() if n and reason not in sampled}
    notes = []
    if excluded:
        notes.append("**Rows set aside before any analysis:** " + "; ".join(
            f"{n:,} {text(reason)}" for reason, n in excluded.items()) + ".")
    if sampled:
        total = len(data.tickets) + sum(sampled.values())
        reasons = "; ".join(text(reason) for reason in sampled)
        notes.append(
            f"**Models fit on a random sample** of {len(data.tickets):,} of {total:,} tickets ({reasons}). "
            "The data set is larger than the models need for precise estimates, and a sample keeps the run "
            "fast; the same data and seed give the same sample. Raise `model_tickets` (0 = every ticket) to "
            "fit on more. The data overview and the SLA experiment use every ticket.")
    return "\n\n".join(notes)
