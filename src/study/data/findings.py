"""Findings of the data overview (01) in words: descriptive, nothing adjusted."""

from __future__ import annotations

from study.core.findings import Finding, Findings
from study.core.words import pct, text


def overview(facts) -> Findings:
    """Findings of the data overview (descriptive only); the satisfaction baseline is the headline.

    Parameters
    ----------
    facts : study.data.overview.Overview
        :func:`study.data.overview.summarize` output.
    """
    headline, by_band, by_resolution = facts.headline, facts.by_band, facts.by_resolution
    estimates = {e.name: e for e in headline}
    csat, answered, repeat = estimates["csat_mean"], estimates["survey_response_rate"], estimates["repeat_purchase_rate"]
    lines = [
        Finding(f"**The data.** {facts.tickets:,} tickets from {facts.customers:,} customers"
                + (f", opened {facts.first_opened:%d %b %Y} to {facts.last_opened:%d %b %Y}"
                   if facts.first_opened is not None else "") + "."),
        Finding(f"**Speed.** Half of the tickets got a first reply within "
                f"{estimates['median_first_response_minutes'].value:.0f} minutes; "
                f"{facts.over_a_day:.1%} waited more than a day.", ("median_first_response_minutes",)),
        Finding(f"**Satisfaction.** {pct(answered.value)} of tickets have a CSAT answer; their mean is {csat.value:.2f} "
                f"({csat.ci_level:.0%} CI {csat.ci_low:.2f} to {csat.ci_high:.2f}) on the 1-5 scale. "
                f"{pct(repeat.value)} of tickets were followed by a repeat purchase.",
                (answered.name, csat.name, repeat.name), headline=True),
    ]
    fastest, slowest = by_band.index[0], by_band.index[-1]
    lines.append(Finding(
        f"**Speed and satisfaction, before any adjustment.** Tickets answered {fastest} have a mean CSAT of "
        f"{by_band.loc[fastest, 'csat mean']:.2f}, those answered {slowest} {by_band.loc[slowest, 'csat mean']:.2f}; "
        f"repeat purchase {pct(by_band.loc[fastest, 'repeat_purchase mean'])} against "
        f"{pct(by_band.loc[slowest, 'repeat_purchase mean'])}. These are raw comparisons: slow tickets are also the "
        "harder ones, so the analyses that follow hold the known confounders fixed."))
    if {True, False} <= set(by_resolution.index):
        lines.append(Finding(
            f"**Resolution.** Resolved cases average CSAT {by_resolution.loc[True, 'csat mean']:.2f} against "
            f"{by_resolution.loc[False, 'csat mean']:.2f} for unresolved ones."))
    if answered.value < 1:
        unanswered_band = by_band["csat answers"] / by_band["tickets"]
        lines.append(Finding(
            f"**Who answers the survey.** Response rates run from {unanswered_band.min():.0%} to "
            f"{unanswered_band.max():.0%} across response-time bands: answers are not a random sample of tickets."))
    return Findings(lines)


def model_sample(data) -> str:
    """A note that the models fit on a customer sample, or ``""`` when they use every ticket.

    Parameters
    ----------
    data : study.data.dataset.TicketData
        As returned by :func:`study.data.dataset.load_tickets` with ``max_tickets``.
    """
    # Only the sample's reason: rows a column map's filter excluded are not part of the data analysed.
    left_out = {r: n for r, n in data.set_aside.items() if r.startswith("outside the model sample")}
    if not left_out:
        return ""
    total = len(data.tickets) + sum(left_out.values())
    reasons = "; ".join(text(reason) for reason in left_out)
    return (f"**Models fit on a random sample** of {len(data.tickets):,} of {total:,} tickets ({reasons}). "
            "The data set is larger than the models need for precise estimates, and a sample keeps the run "
            "fast; the same data and seed give the same sample. Raise `model_tickets` (0 = every ticket) to "
            "fit on more. The data overview and the SLA experiment use every ticket.")
