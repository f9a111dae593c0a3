"""The pieces every executive-summary sentence is built from: units, intervals in words, estimates read from results JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from study.core.results import format_p

ERROR_ANCHOR = "papermill-error-cell"  # papermill marks the cell that failed; a failed report may have no Findings


ANCHOR = "Findings"  # heading id of each report's Findings section (nbconvert derives it from "## Findings")


CONTROL_WORDS = {
    "resolved": "resolution", "reopened": "reopening", "category": "issue category", "loyalty_tier": "loyalty tier",
    "agent_id": "agent", "csat": "CSAT", "response_log2_hours": "first response time",
}


@dataclass(frozen=True)
class Unit:
    """How to write a quantity: ``scale`` multiplies the value, ``suffix`` follows the point estimate
    and ``bound_suffix`` each bound of its interval (e.g. 0.016 -> '1.6 percentage points')."""

    scale: float = 1.0
    digits: int = 2
    suffix: str = ""
    bound_suffix: str = ""

    def __call__(self, value: float, signed: bool = False, bound: bool = False) -> str:
        value = value * self.scale + 0.0  # + 0.0 turns -0.0 into 0.0
        if round(value, self.digits) == 0:
            value = 0.0
        text = f"{value:+.{self.digits}f}" if signed else f"{value:.{self.digits}f}"
        return text + (self.bound_suffix if bound else self.suffix)


CSAT_POINTS = Unit(1.0, 2, " points")


PP = Unit(100.0, 1, " percentage points")


PCT = Unit(100.0, 1, "%", "%")


SHARE = Unit(100.0, 0, "%", "%")


PLAIN = Unit(1.0, 2)


@dataclass(frozen=True)
class Sentence:
    """One finding in plain language.

    Attributes
    ----------
    analysis : str
        The analysis it comes from, e.g. ``02_satisfaction_drivers``.
    text : str
        The sentence, plain text (escaped when rendered).
    href : str or None
        The report section with the detail, relative to the index (``None``: no report).
    estimates : tuple of str
        Names of the estimates it quotes (``results/<analysis>.json``).
    kind : str
        ``finding``, ``check`` (a design check), ``skipped`` (a section that could not run on this
        data, with the reason; it states no number) or ``failed`` (the analysis failed).
    """

    analysis: str
    text: str
    href: str | None
    estimates: tuple[str, ...] = ()
    kind: str = "finding"


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def usable(estimate: Mapping | None, interval: bool = True) -> bool:
    """Whether an estimate has a finite value (and, with ``interval``, finite bounds)."""
    if not estimate or not finite(estimate.get("value")):
        return False
    return not interval or (finite(estimate.get("ci_low")) and finite(estimate.get("ci_high")))


def estimates_by_name(payload: Mapping | None) -> dict[str, dict]:
    """``{name: estimate}`` of a results payload (check each with :func:`usable` before quoting it)."""
    if not payload:
        return {}
    return {str(e["name"]): e for e in payload.get("estimates") or [] if isinstance(e, Mapping) and "name" in e}


def get(found: Mapping[str, dict], name: str) -> dict | None:
    estimate = found.get(name)
    return estimate if usable(estimate) else None


def read_results(folder: str | Path) -> dict[str, dict]:
    """Every ``<analysis>.json`` in a results folder, ``{analysis: payload}``; unreadable files are left out."""
    out = {}
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(payload, dict):
            out[str(payload.get("analysis") or path.stem)] = payload
    return out


def interval_level(estimate: Mapping) -> str:
    level = estimate.get("ci_level")
    return f"{level if finite(level) else 0.95:.0%} CI"


def p_words(p: float | None) -> str:
    """'p < 0.001' or 'p = 0.012' (:func:`study.core.results.format_p`)."""
    text = format_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def direction(estimate: Mapping) -> int:
    """+1 when the interval lies entirely above zero, -1 entirely below, 0 when it includes zero."""
    if estimate["ci_low"] > 0:
        return 1
    if estimate["ci_high"] < 0:
        return -1
    return 0


def change(estimate: Mapping, unit: Unit, up: str, down: str, flat: str, *, with_level: bool = True) -> str:
    """A change with its interval, the verb carrying the sign when the interval excludes zero.

    ``change(e, CSAT_POINTS, 'raises CSAT', 'lowers CSAT', 'changes CSAT')`` gives
    'lowers CSAT by 0.15 points (95% CI 0.14 to 0.16)' for -0.15 (-0.16 to -0.14), and
    'changes CSAT by +0.02 points (95% CI -0.01 to +0.05)' for an interval that includes zero.
    """
    level = f"{interval_level(estimate)} " if with_level else ""
    sign = direction(estimate)
    if sign == 0:
        return (f"{flat} by {unit(estimate['value'], signed=True)} ({level}{unit(estimate['ci_low'], True, True)} to "
                f"{unit(estimate['ci_high'], True, True)})")
    verb, k = (up, 1) if sign > 0 else (down, -1)
    low, high = sorted((k * estimate["ci_low"], k * estimate["ci_high"]))
    return f"{verb} by {unit(k * estimate['value'])} ({level}{unit(low, bound=True)} to {unit(high, bound=True)})"


def oriented(estimate: Mapping, unit: Unit, sign: int, with_level: bool = False) -> str:
    """Value and interval read the same way as a main estimate of sign ``sign`` (magnitudes when it is
    not zero, so 'lowers by 0.15' sits next to '0.20 (0.19 to 0.21)'), signed otherwise."""
    level = f"{interval_level(estimate)} " if with_level else ""
    if sign == 0:
        return (f"{unit(estimate['value'], signed=True)} ({level}{unit(estimate['ci_low'], True, True)} to "
                f"{unit(estimate['ci_high'], True, True)})")
    low, high = sorted((sign * estimate["ci_low"], sign * estimate["ci_high"]))
    return f"{unit(sign * estimate['value'])} ({level}{unit(low, bound=True)} to {unit(high, bound=True)})"


def controls_words(model: str, focus: str = "response_log2_hours") -> str:
    """'resolution, issue category and channel' from a formula's right-hand side, ``focus`` left out."""
    if "~" not in model:
        return ""
    names = []
    for term in model.split("~", 1)[1].split("+"):
        term = term.strip()
        if term.startswith("C(") and term.endswith(")"):
            term = term[2:-1]
        if term and term != focus and ":" not in term and term.isidentifier():
            names.append(CONTROL_WORDS.get(term, term.replace("_", " ")))
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def holding(estimate: Mapping, focus: str = "response_log2_hours") -> str:
    controls = controls_words(str(estimate.get("model", "")), focus)
    return f", holding {controls} fixed" if controls else ""


def skipped_notes(payload: Mapping | None) -> dict[str, str]:
    """``{section: reason}`` of the notes ``"<section>: skipped, <reason>"`` of a results payload."""
    out = {}
    for note in (payload or {}).get("notes") or []:
        if isinstance(note, str) and ": skipped, " in note:
            section, reason = note.split(": skipped, ", 1)
            out.setdefault(section, reason)
    return out


def skipped_sentence(analysis: str, what: str, reason: str, href: str | None) -> Sentence:
    return Sentence(analysis, f"{what} was skipped: {reason}.", href, (), "skipped")


def first_upper(text: str) -> str:
    """Capitalize a sentence that starts with our own words (callers never start one with data)."""
    return text[:1].upper() + text[1:]
