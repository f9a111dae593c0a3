"""The index's one-sentence headline and its title: what matters most, with its number, and which data.

The headline is built from the results table (:mod:`study.report.key_results`), never written by
hand. An experiment's verdict leads (a decision is what a director acts on, and an inconclusive one
says so), with its reason's first clause; then the study's main question (does resolution or speed
go with satisfaction?) as far as the run answered it, else the clearest effect of another analysis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from study.report.key_results import KeyResult

# The study's questions in the order a director asks them; a data set without one moves to the next.
PRIORITY = ("csat_resolved_adjusted", "csat_per_doubling_adjusted", "repeat_per_doubling_total", "rollout_att_csat",
            "driver_adjusted")
EVIDENCE_CLAUSE = {
    "randomized": "a randomized comparison",
    "instrument": "causal if the SLA moved it only through speed",
    "per protocol": "a comparison of units that saw what they were assigned, not as randomized",
    "before/after": "a before/after comparison that assumes parallel trends",
    "observational": "an observational association",
    "predictive": "a predictive measure",
    "descriptive": "a description of the data",
}


def short_label(label: str) -> str:
    """A label without its parenthesised qualifiers (those stay in the table)."""
    cut = label.split(" (", 1)[0].strip()
    return cut[:1].upper() + cut[1:]


def first_clause(reason: str) -> str:
    """A verdict's reason up to its first colon or full stop outside brackets, keeping only the
    bracketed interval: 'CSAT rose by 0.15 points (95% CI 0.11 to 0.19) (higher is better): …'
    gives 'CSAT rose by 0.15 points (95% CI 0.11 to 0.19)'."""
    depth, end = 0, len(reason)
    for i, char in enumerate(reason):
        depth += (char == "(") - (char == ")")
        if depth == 0 and char in ".:" and reason[i + 1:i + 2] in (" ", "") and not reason[i - 1:i].isdigit():
            end = i
            break
    clause = reason[:end]
    kept = re.sub(r"\s*\((?![^()]*\bCI\b)[^()]*\)", "", clause)  # asides without the interval
    return " ".join(kept.split())


def headline(rows: Sequence[KeyResult], verdicts: Sequence = ()) -> str:
    """One sentence: the experiment's verdict and the key result that matters most, with their numbers.

    Returns a sentence saying there are no results when the run has neither (every analysis skipped
    or failed).
    """
    parts = []
    for v in verdicts[:1]:
        first = first_clause(v.reason)
        # "CSAT rose …" keeps its capitals; "Converted rose …" (a capital for the sentence only) does not.
        first = first if first[1:2].isupper() else first[:1].lower() + first[1:]
        parts.append(f"{v.experiment}: {v.decision}, {first}")
    row = _most_important([r for r in rows if not (verdicts and r.analysis in {v.analysis for v in verdicts})])
    if row is not None:
        interval = f" ({row.interval})" if row.interval else ""
        parts.append(f"{short_label(row.label)}: {row.value}{interval}, {EVIDENCE_CLAUSE.get(row.evidence, row.evidence)}")
    if not parts:
        return "No results: no analysis produced an estimate on this data (the reasons are beside each analysis below)."
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:].rstrip(".") + "."


def _most_important(rows: Sequence[KeyResult]) -> KeyResult | None:
    by_name = {row.name: row for row in rows}
    for name in PRIORITY:
        if name in by_name:
            return by_name[name]
    clear = [row for row in rows if row.verdict in ("higher", "lower")]
    for evidence in ("randomized", "instrument", "before/after", "observational"):
        for row in clear:
            if row.evidence == evidence:
                return row
    return None


STUDY = "Service speed, satisfaction and repeat purchase"


def data_title(data_name: str, period: str | None) -> str:
    """The data file and the period its tickets cover: ``march.csv, 1 Mar 2026 to 31 Mar 2026``."""
    return ", ".join(part for part in (data_name, period) if part) or "no data"


def title(data_name: str, period: str | None) -> str:
    """The page title: the study, the data file and the period its tickets cover (e.g. ``5 Jan 2026 to 28 Jun 2026``)."""
    return f"{STUDY}: {data_title(data_name, period)}" if data_name or period else STUDY
