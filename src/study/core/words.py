"""The phrase toolkit: numbers, intervals, p-values and data text in the words every report uses.

Every wing that writes a sentence takes its phrases from here, so a value reads the same in a
notebook's Findings, a design check and the executive summary.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from study.core import bidi
from study.core.results import Estimate, format_p

# Characters that can start Markdown markup inline: emphasis, code, links and images ([, ], !),
# strikethrough, tables, headings, and the ':' of a bare URL that renderers turn into a link.
_MARKDOWN = re.compile(r"([\\`*_\[\]!~|#{}:])")


def text(value) -> str:
    """Text from the data, shown as the very characters it holds when rendered as Markdown and HTML.

    HTML is escaped (``<script>`` shows as text) and so is Markdown: an arm named
    ``[x](javascript:alert(1)) ![t](http://example.com/t.png)`` must read as that text, never
    become a live link or load a remote image. A value with right-to-left letters (an arm or theme named in
    Arabic or Hebrew, or in two scripts) is isolated (:func:`study.core.bidi.in_sentence`).
    """
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(str(value), quote=False))
    escaped = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:-1] + "\\.", escaped)
    # A name in Arabic or Hebrew is laid out by itself, so the numbers and words after it keep their places.
    return bidi.in_sentence(str(value), escaped)


def number(value: float, digits: int = 2, signed: bool = False) -> str:
    """A number with fixed decimals; ``signed`` adds '+' to positives."""
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def pct(value: float, digits: int = 1, signed: bool = False) -> str:
    """A share as a percentage: 0.123 -> '12.3%'."""
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def points(value: float, digits: int = 1, signed: bool = True) -> str:
    """A probability difference in percentage points: 0.012 -> '+1.2 pp'."""
    return Unit(100.0, digits, " pp")(value, signed=signed)


def p_value(p: float | None) -> str:
    """'p < 0.001', 'p = 0.012' or 'p n/a' (:func:`study.core.results.format_p`)."""
    written = format_p(p)
    if written == "n/a":
        return "p n/a"
    return f"p < {written[1:]}" if written.startswith("<") else f"p = {written}"


def with_interval(estimate: Estimate, unit: str = "value", digits: int = 2) -> str:
    """Value and confidence interval in one phrase, in ``unit`` ('value', 'pp' or 'pct').

    Examples
    --------
    '-0.15 (95% CI -0.16 to -0.14)' or '+1.8 pp (95% CI +0.8 to +2.8 pp)'.
    """
    level = f"{estimate.ci_level:.0%} CI"
    if unit == "pp":
        return (f"{points(estimate.value)} ({level} {points(estimate.ci_low)[:-3]} to "
                f"{points(estimate.ci_high)})")
    if unit == "pct":
        return (f"{pct(estimate.value, signed=True)} ({level} {pct(estimate.ci_low, signed=True)} to "
                f"{pct(estimate.ci_high, signed=True)})")
    return (f"{number(estimate.value, digits, signed=True)} ({level} {number(estimate.ci_low, digits, signed=True)} "
            f"to {number(estimate.ci_high, digits, signed=True)})")


def bullet_list(lines: list[str]) -> str:
    """Markdown bullets."""
    return "\n".join(f"- {line}" for line in lines)


def covers_words(estimate: Estimate, true_value: float) -> str:
    """'covers' or 'does **not** cover', for a sentence about a known true value."""
    return "covers" if estimate.covers(true_value) else "does **not** cover"


def quantity(value: float, unit: str = "value", digits: int = 2) -> str:
    """A signed value in ``unit`` ('value', 'pp' or 'pct') with ``digits`` decimals: '+0.80', '+1.25 pp', '+3.10%'."""
    if unit == "pp":
        return points(value, digits)
    if unit == "pct":
        return pct(value, digits, signed=True)
    return number(value, digits, signed=True)


def _one_time_in(probability: float) -> str:
    """'about one time in 430,000' (two significant digits), or 'less than one time in a million'."""
    if probability < 1e-6:
        return "less than one time in a million"
    odds = 1 / probability
    rounded = round(odds, -max(0, math.floor(math.log10(odds)) - 1))
    return f"about one time in {rounded:,.0f}"


def misses_truth(estimate: Estimate, true_value: float, what: str, unit: str = "value", digits: int = 3,
                 hint: str = "") -> str:
    """A plain sentence that an interval misses a simulation's true value, and how far.

    Parameters
    ----------
    estimate : Estimate
        Its interval excludes ``true_value``.
    true_value : float
    what : str
        The estimate in words, e.g. 'adjusted resolution'.
    unit, digits
        As :func:`quantity`: enough decimals that the truth is visibly outside the interval.
    hint : str, optional
        A sentence on where the miss may come from, appended as it is.

    Returns
    -------
    str
        E.g. '**Misses the truth.** The adjusted resolution interval (95% CI +0.81 to +0.83) does not
        contain the simulation's true +0.80: the estimate lies 4.3 standard errors from it. A 95%
        interval misses by chance about one time in 20, this far about one time in 59,000, more than
        chance explains, so on this data the estimate is biased.'

    Notes
    -----
    The distance is ``(value - truth) / se``; with the normal reference the chance of a distance at
    least that large is ``erfc(|z| / sqrt 2)``.
    """
    low, high = quantity(estimate.ci_low, unit, digits), quantity(estimate.ci_high, unit, digits)
    if unit == "pp":
        low = low[:-3]
    sentence = (f"**Misses the truth.** The {what} interval ({estimate.ci_level:.0%} CI {low} to {high}) does not "
                f"contain the simulation's true {quantity(true_value, unit, digits)}")
    if estimate.se and math.isfinite(estimate.se) and estimate.se > 0:
        z = (estimate.value - true_value) / estimate.se
        chance = math.erfc(abs(z) / math.sqrt(2))
        sentence += (f": the estimate lies {abs(z):.1f} standard errors from it. A {estimate.ci_level:.0%} interval "
                     f"misses by chance about one time in {1 / (1 - estimate.ci_level):.0f}, this far "
                     f"{_one_time_in(chance)}: ")
        sentence += ("more than chance explains, so on this data the estimate is biased." if abs(z) >= 3 else
                     "one miss alone does not prove a bias, but a biased estimate would look like this.")
    else:
        sentence += "."
    return sentence + (f" {hint}" if hint else "")


# Metric names in words, in every report (notebook Findings, tables and the executive summary).
METRIC_WORDS = {"csat": "CSAT", "repeat_purchase": "repeat purchase", "response_log2_hours": "first response time",
                "csat_answered": "survey response rate", "next_spend": "follow-up spend", "survey_response": "survey response rate",
                "customer_repeat_rate": "repeat rate per customer", "customer_spend": "follow-up spend per customer"}


def _magnitudes(low: float, high: float) -> tuple[float, float]:
    """The interval of ``|effect|`` implied by an interval of the effect (from 0 when it includes zero)."""
    low_size, high_size = abs(low), abs(high)
    return (0.0 if low <= 0 <= high else min(low_size, high_size)), max(low_size, high_size)


def resolution_versus_speed(resolved: tuple[float, float], day: tuple[float, float]) -> str:
    """Which goes with the larger CSAT difference: a resolved case, or a 24-hour instead of a 1-hour first reply.

    The rule every report uses: one difference is the larger only when the intervals of the two
    differences' sizes do not overlap; otherwise the data cannot tell, and the sentence says so.
    The words are those of an association: both are observational estimates.

    Parameters
    ----------
    resolved, day : tuple of float
        ``(ci_low, ci_high)`` of the resolved-versus-unresolved and of the 24-hour-versus-1-hour difference.
    """
    resolved_low, resolved_high = _magnitudes(*resolved)
    day_low, day_high = _magnitudes(*day)
    if resolved_low > day_high:
        return "the resolution difference is the larger of the two (the intervals do not overlap)"
    if resolved_high < day_low:
        return "the speed difference is the larger of the two (the intervals do not overlap)"
    return ("the intervals overlap: these estimates do not say whether the resolution or the speed difference "
            "is the larger")


# Phrases of estimates as the results file holds them (mappings with value, ci_low, ci_high, ci_level).

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
        written = f"{value:+.{self.digits}f}" if signed else f"{value:.{self.digits}f}"
        return written + (self.bound_suffix if bound else self.suffix)


CSAT_POINTS = Unit(1.0, 2, " points")


PP = Unit(100.0, 1, " percentage points")


PLAIN = Unit(1.0, 2)


def interval_level(estimate: Mapping) -> str:
    """'95% CI' at the estimate's level (95% when the file does not say)."""
    level = estimate.get("ci_level")
    known = isinstance(level, (int, float)) and not isinstance(level, bool) and math.isfinite(level)
    return f"{level if known else 0.95:.0%} CI"


def direction(estimate: Mapping) -> int:
    """+1 when the interval lies entirely above zero, -1 entirely below, 0 when it includes zero."""
    if estimate["ci_low"] > 0:
        return 1
    if estimate["ci_high"] < 0:
        return -1
    return 0


def change(estimate: Mapping, unit: Unit, up: str, down: str, flat: str, *, with_level: bool = True) -> str:
    """A change with its interval, the verb carrying the sign when the interval excludes zero.

    ``change(e, CSAT_POINTS, 'CSAT rose', 'CSAT fell', 'CSAT changed')`` gives
    'CSAT fell by 0.15 points (95% CI 0.14 to 0.16)' for -0.15 (-0.16 to -0.14), and
    'CSAT changed by +0.02 points (95% CI -0.01 to +0.05)' for an interval that includes zero.
    The verbs say what moved; they are for randomized comparisons (an experiment's verdict), never
    for an observational estimate, whose sentences use association words.
    """
    level = f"{interval_level(estimate)} " if with_level else ""
    sign = direction(estimate)
    if sign == 0:
        return (f"{flat} by {unit(estimate['value'], signed=True)} ({level}{unit(estimate['ci_low'], True, True)} to "
                f"{unit(estimate['ci_high'], True, True)})")
    verb, k = (up, 1) if sign > 0 else (down, -1)
    low, high = sorted((k * estimate["ci_low"], k * estimate["ci_high"]))
    return f"{verb} by {unit(k * estimate['value'])} ({level}{unit(low, bound=True)} to {unit(high, bound=True)})"


def first_upper(text: str) -> str:
    """Capitalize a sentence that starts with our own words (callers never start one with data)."""
    return text[:1].upper() + text[1:]
