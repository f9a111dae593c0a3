"""The index's results table: every key estimate of a run, written as its finding writes it.

A key estimate is one that a headline finding quotes (``findings[].estimates`` of a results file,
:func:`study.report.summary.headline_sentences`). Each row says what kind of evidence it is
(:func:`evidence_of`), draws its interval against the value that means "no difference" (zero for an
effect, 0.5 for an AUC, none for a level), and carries a verdict chip: the experiment's decision for
its primary metric, the guardrail's state, or which side of "no difference" the interval lies.

Numbers are written in the unit and with the decimals of the finding that quotes them
(:func:`written_like`), so the table and the sentence above it never disagree (0.409 against 40.9%).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from study import analyses
from study.core.results import format_p
from study.core.words import Unit
from study.report.compare_units import style_of
from study.report.sentences import Sentence, estimates_by_name, finite, usable

EVIDENCE_WORDS = {
    "randomized": "causal · randomized",
    "instrument": "causal if the SLA acts only through speed",
    "per protocol": "per protocol · not as randomized",
    "before/after": "causal if trends are parallel",
    "observational": "observational",
    "predictive": "predictive",
    "descriptive": "descriptive",
    "check": "design check",
}

EVIDENCE_ORDER = ("randomized", "instrument", "before/after", "per protocol", "observational", "predictive", "descriptive",
                  "check")


@dataclass(frozen=True)
class KeyResult:
    """One row of the results table.

    Attributes
    ----------
    analysis, name, label : str
        Where it comes from and what it is (the estimate's own label).
    value, interval : str
        The estimate and its interval as the finding writes them (``""`` when it has no interval).
    evidence : str
        Evidence kind (see :data:`EVIDENCE_WORDS`).
    verdict : str
        The chip's words (``""``: none); ``verdict_kind`` is ``good``, ``bad``, ``unclear`` or ``neutral``.
    verdict_reason : str
        Why, in words, for the chip's tooltip.
    bar : tuple or None
        ``(low, value, high, reference)`` as written (percent for shares), for the interval drawing;
        ``reference`` is no difference (zero, 0.5 for an AUC); ``None`` for a level, which is not drawn.
    href : str or None
        The report section with the detail.
    """

    analysis: str
    name: str
    label: str
    value: str
    interval: str
    evidence: str
    verdict: str
    verdict_kind: str
    verdict_reason: str
    bar: tuple | None
    href: str | None

    @property
    def evidence_words(self) -> str:
        return EVIDENCE_WORDS.get(self.evidence, self.evidence)


def evidence_of(analysis: str, name: str, per_protocol: bool = False) -> str:
    """The kind of evidence an estimate is: its analysis's (:attr:`study.analyses.Analysis.evidence`),
    unless its name says otherwise.

    A design check (sample ratio, an instrument's first stage) is ``check``; the SLA experiment used
    as an instrument for speed (``…_randomized``) is ``instrument``, causal only if the SLA moved the
    outcome through speed alone; every unit as assigned (``_itt_``) is ``randomized``. With
    ``per_protocol`` (the experiment set units aside for their exposure), its other comparisons are
    ``per protocol``: randomization does not protect that selection.
    """
    if name.startswith(("sample_ratio", "first_stage")):
        return "check"
    if "randomized" in name:
        return "instrument"
    if "_itt_" in name:
        return "randomized"
    if per_protocol and analysis in (analyses.AB_TEST, analyses.EXPERIMENT) and ("_effect_" in name or "_lift_" in name):
        return "per protocol"
    if "naive" in name:
        return "observational"
    registered = {a.name: a.evidence for a in analyses.ANALYSES}.get(analysis, "observational")
    if analysis == analyses.REPEAT_MODEL and name.startswith("repeat_rate"):
        return "observational"  # a scenario of the adjusted causal model, not a prediction
    if analysis == analyses.FEEDBACK and not name.startswith("feedback_share"):
        return "observational"  # differences in outcomes between those who name a theme and the others
    return registered


def reference_of(estimate: Mapping) -> float | None:
    """The value meaning "no difference": 0.5 for an AUC, 0 for an estimate tested against zero, else none."""
    if "auc" in str(estimate.get("name", "")).split("_"):
        return 0.5
    return 0.0 if finite(estimate.get("p_value")) else None


_NUMBER_END = r"(?![\d.]*\d)"
_SUFFIX = re.compile(r"\s?(%|pp\b|percentage points?\b|points?\b)")


def written_like(estimate: Mapping, sentence: str) -> Unit | None:
    """The unit in which ``sentence`` writes ``estimate``: scale (1 or 100), decimals and suffix.

    The value is looked for as a whole number in the text (signed or not), at 0 to 3 decimals and as
    a share in percent; a reading under which a bound of its interval is written too wins over one
    under which only the value is. The suffix is what follows the value (``%``, ``pp``, ``points``)
    or, when an interval follows, what follows the interval. ``None`` when the text does not write it.
    """
    readings = []
    for scale in (1.0, 100.0):
        for digits in (2, 1, 3, 0):
            if scale == 1.0 and digits == 0 and abs(estimate["value"]) < 10:
                continue  # "0" or "1" appears in any sentence
            match = _find(estimate["value"] * scale, digits, sentence)
            if match is not None:
                bounds = [estimate.get(k) for k in ("ci_low", "ci_high") if finite(estimate.get(k))]
                confirmed = any(_find(b * scale, digits, sentence) is not None for b in bounds)
                readings.append((not confirmed, Unit(scale, digits, _suffix_after(sentence, match.end(), scale))))
    if not readings:
        return None
    return min(readings, key=lambda reading: reading[0])[1]  # stable: the first confirmed reading, else the first


def _find(value: float, digits: int, sentence: str) -> re.Match | None:
    scaled = round(value, digits) + 0.0
    for written in (f"{scaled:+.{digits}f}", f"{abs(scaled):.{digits}f}"):
        # Not preceded by a digit, point or sign: 0.02 is not found inside +0.02 or 10.02.
        match = re.search(rf"(?<![\d.+-]){re.escape(written)}{_NUMBER_END}", sentence)
        if match:
            return match
    return None


def _suffix_after(sentence: str, end: int, scale: float) -> str:
    rest = sentence[end:]
    found = _SUFFIX.match(rest)
    if not found and rest.startswith(" ("):
        closing = rest.find(")")
        found = _SUFFIX.match(rest[closing + 1:]) if closing > 0 else None
    if found:
        word = found.group(1)
        if word.startswith("percentage"):
            return " pp"
        return "%" if word == "%" else f" {'points' if word.startswith('point') else word}"
    return "%" if scale == 100.0 else ""


def _with_label_unit(unit: Unit, estimate: Mapping) -> Unit:
    """A finding that leaves the unit to its context ("the slope is -0.20") still gets it in the table."""
    if not unit.suffix and str(estimate.get("label", "")).startswith("CSAT points"):
        return Unit(unit.scale, unit.digits, " points")
    return unit


def default_unit(estimate: Mapping) -> Unit:
    """How to write an estimate no finding writes: as a comparison of runs writes it, from its label
    (:func:`study.report.compare_units.style_of`: shares in percent, their differences in pp)."""
    return style_of(estimate, None).unit()


def key_results(results: Mapping[str, Mapping], sentences: Sequence[Sentence], verdicts: Sequence = ()) -> list[KeyResult]:
    """The results table of a run: each estimate its headline findings quote, once, strongest evidence first.

    Parameters
    ----------
    results : mapping
        ``{analysis: payload}`` of the run's results files.
    sentences : sequence of Sentence
        The executive summary's sentences (:func:`study.report.summary.summarize`); failed analyses'
        sentences quote nothing.
    verdicts : sequence of Verdict
        The experiments' verdicts, for the chips of their primary metrics and guardrails.
    """
    chips = _verdict_chips(verdicts)
    quoting: dict[tuple[str, str], list[str]] = {}  # every finding that writes an estimate, headline or not
    for sentence in sentences:
        for name in sentence.estimates:
            quoting.setdefault((sentence.analysis, name), []).append(sentence.text)
    for analysis, payload in results.items():
        for finding in (payload or {}).get("findings") or []:
            if isinstance(finding, Mapping) and isinstance(finding.get("text"), str):
                for name in finding.get("estimates") or ():
                    quoting.setdefault((analysis, str(name)), []).append(finding["text"])
    # An experiment that set units aside for their exposure writes its as-assigned comparisons beside them.
    per_protocol = {analysis for analysis, payload in results.items()
                    if any("_itt_" in name for name in estimates_by_name(payload))}
    rows, seen = [], set()
    for sentence in sentences:
        found = estimates_by_name(results.get(sentence.analysis))
        for name in sentence.estimates:
            estimate = found.get(name)
            if (sentence.analysis, name) in seen or not usable(estimate, interval=False):
                continue
            seen.add((sentence.analysis, name))
            rows.append(_row(sentence, estimate, chips.get((sentence.analysis, name)),
                             " ".join(quoting[(sentence.analysis, name)]), sentence.analysis in per_protocol))
    # Strongest evidence first (a director reads the randomized results before the descriptions); stable within.
    return sorted(rows, key=lambda row: EVIDENCE_ORDER.index(row.evidence) if row.evidence in EVIDENCE_ORDER else 3)


def _row(sentence: Sentence, estimate: Mapping, chip: tuple[str, str, str] | None, texts: str,
         per_protocol: bool = False) -> KeyResult:
    evidence = evidence_of(sentence.analysis, estimate["name"], per_protocol)
    if estimate["name"].startswith("sample_ratio"):  # the split check reads by its p-value, as its finding does
        p = estimate.get("p_value")
        return KeyResult(sentence.analysis, estimate["name"], str(estimate.get("label", estimate["name"])),
                         f"p = {format_p(p)}" if finite(p) else "", "", evidence,
                         *(chip or _direction_chip(estimate, None)), None, sentence.href)
    written = written_like(estimate, texts)
    unit = _with_label_unit(written, estimate) if written else default_unit(estimate)
    reference = reference_of(estimate)
    signed = reference == 0.0
    interval = ""
    bar = None
    if usable(estimate):
        low, high = estimate["ci_low"], estimate["ci_high"]
        level = estimate.get("ci_level") if finite(estimate.get("ci_level")) else 0.95
        # Percent signs go on each bound, as the findings write them; a word unit once, after the interval.
        each, after = ("%", "") if unit.suffix == "%" else ("", unit.suffix)
        bounds = Unit(unit.scale, unit.digits, each, each)
        interval = f"{level:.0%} CI {bounds(low, signed, True)} to {bounds(high, signed, True)}{after}"
        # A level (a mean, a share) has no "no difference" to be drawn against: its interval is in words only.
        bar = None if reference is None else (low * unit.scale, estimate["value"] * unit.scale, high * unit.scale,
                                              reference * unit.scale)
    if chip is None:
        chip = _direction_chip(estimate, reference)
    return KeyResult(sentence.analysis, estimate["name"], str(estimate.get("label", estimate["name"])),
                     unit(estimate["value"], signed), interval, evidence, *chip, bar, sentence.href)


def _direction_chip(estimate: Mapping, reference: float | None) -> tuple[str, str, str]:
    if str(estimate.get("name", "")).startswith("sample_ratio"):
        # The analysis judged the split at its own alarm level (srm_alpha); 0.001 for files that do not say.
        mismatch = (estimate.get("extra") or {}).get("mismatch")
        p = estimate.get("p_value")
        if not isinstance(mismatch, bool):
            if not finite(p):
                return "", "neutral", ""
            mismatch = p < 0.001
        return ("split broken", "bad", "") if mismatch else ("split as planned", "good", "")
    if reference is None or not usable(estimate):
        return "", "neutral", ""
    if estimate["ci_low"] > reference:
        return ("better than chance" if reference == 0.5 else "higher"), "neutral", ""
    if estimate["ci_high"] < reference:
        return ("worse than chance" if reference == 0.5 else "lower"), "neutral", ""
    return ("no better than chance" if reference == 0.5 else "no clear difference"), "unclear", ""


def _verdict_chips(verdicts: Sequence) -> dict[tuple[str, str], tuple[str, str, str]]:
    kinds = {"ship": "good", "don't ship": "bad"}
    chips = {}
    for v in verdicts:
        chips[(v.analysis, v.primary)] = (v.decision.capitalize(), kinds.get(v.decision, "unclear"), v.reason)
        for guardrail in v.guardrails:
            state = ("guardrail harmed", "bad") if guardrail in v.harmed else (
                ("guardrail unclear", "unclear") if guardrail in getattr(v, "unresolved", ()) else ("guardrail held", "good"))
            chips.setdefault((v.analysis, guardrail), (*state, ""))
    return chips


def interval_bar(bar: tuple | None, width: int = 120, height: int = 16) -> str:
    """An inline SVG of an interval: the bar from low to high, a dot at the value, a dashed line at the
    reference (no difference). ``""`` without an interval. Numbers only: safe markup."""
    if bar is None:
        return ""
    low, value, high, reference = (None if v is None else float(v) for v in bar)
    points = [low, high, value, reference]
    left, right = min(points), max(points)
    span = (right - left) or abs(right) or 1.0
    left, right = left - span * 0.08, right + span * 0.08

    def x(v: float) -> float:
        return round(4 + (v - left) / (right - left) * (width - 8), 1)

    middle = height / 2
    clear = low > reference or high < reference
    colour = "#0173b2" if clear else "#8a8a8a"
    parts = [f'<svg class="ci" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true">']
    parts.append(f'<line x1="{x(reference)}" y1="1" x2="{x(reference)}" y2="{height - 1}" stroke="#555" '
                 'stroke-dasharray="2,2"/>')
    parts.append(f'<line x1="{x(low)}" y1="{middle}" x2="{x(high)}" y2="{middle}" stroke="{colour}" stroke-width="4" '
                 'stroke-linecap="round"/>')
    parts.append(f'<circle cx="{x(value)}" cy="{middle}" r="3.5" fill="#222"/></svg>')
    return "".join(parts)
