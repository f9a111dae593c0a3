"""The index's one-sentence headline and its title: what matters most, with its number, and which data.

The headline is built from the results table (:mod:`study.report.key_results`), never written by
hand: an experiment that decided (ship or don't ship) leads; otherwise the study's main question
(does resolution or speed go with satisfaction?) as far as the run answered it, then any clear
effect, then the first key result. A verdict that did not decide is added after it.
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
    "before/after": "a before/after comparison that assumes parallel trends",
    "observational": "an observational association",
    "predictive": "a predictive measure",
    "descriptive": "a description of the data",
}


def short_label(label: str) -> str:
    """A label without its parenthesised or comma-separated qualifiers (those stay in the table)."""
    cut = re.split(r"\s\(|,\s", label, maxsplit=1)[0].strip()
    return cut[:1].upper() + cut[1:]


def headline(rows: Sequence[KeyResult], verdicts: Sequence = ()) -> str:
    """One sentence: the key result that matters most, with its number and kind of evidence.

    Returns ``""`` when the run has no key result (every analysis skipped or failed).
    """
    decided = [v for v in verdicts if v.decision in ("ship", "don't ship")]
    undecided = [v for v in verdicts if v not in decided]
    if decided:
        v = decided[0]
        first = re.split(r"(?<=[a-z%)])[.:]\s", v.reason, maxsplit=1)[0]
        sentence = f"{v.decision.capitalize()}: {v.experiment}; {first}"
    else:
        row = _most_important(rows)
        if row is None:
            return ""
        interval = f" ({row.interval})" if row.interval else ""
        sentence = f"{short_label(row.label)}: {row.value}{interval}, {EVIDENCE_CLAUSE.get(row.evidence, row.evidence)}"
    for v in (undecided if not decided else decided[1:] + undecided)[:1]:
        sentence += f"; {v.experiment}: {v.decision}"
    return sentence.rstrip(".") + "."


def _most_important(rows: Sequence[KeyResult]) -> KeyResult | None:
    by_name = {row.name: row for row in rows}
    for name in PRIORITY:
        if name in by_name:
            return by_name[name]
    clear = [row for row in rows if row.verdict in ("higher", "lower")]
    for evidence in ("randomized", "before/after", "observational"):
        for row in clear:
            if row.evidence == evidence:
                return row
    return rows[0] if rows else None


STUDY = "Service speed, satisfaction and repeat purchase"


def data_title(data_name: str, period: str | None) -> str:
    """The data file and the period its tickets cover: ``march.csv, 1 Mar 2026 to 31 Mar 2026``."""
    return ", ".join(part for part in (data_name, period) if part) or "no data"


def title(data_name: str, period: str | None) -> str:
    """The page title: the study, the data file and the period its tickets cover (e.g. ``5 Jan 2026 to 28 Jun 2026``)."""
    return f"{STUDY}: {data_title(data_name, period)}" if data_name or period else STUDY
