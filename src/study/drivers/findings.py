"""The driver analysis in words: associations, never causes; every caveat said where the numbers are.

The sentences say what goes with what ("rows one unit higher in delivery_delay_days have review
scores lower by ..."), name what was held fixed, and say what the data cannot show: anything not
held fixed, the direction of the association, and, for a survey answer, who answered.
"""

from __future__ import annotations

import math
import re

from study.core.findings import Finding, Findings, skipped
from study.core.results import Estimate, Skipped, format_p
from study.core.words import p_value, text
from study.regression.findings import TruthCheck, truth_checks

# An outcome whose name says it is a survey answer gets the caveat on who answers.
# The heading of 06's section that shows the headline estimates (the index links to it).
SECTION = "Naive and adjusted"
SURVEY_WORDS = re.compile(r"csat|nps|review|rating|satisf|survey|score|stars", re.IGNORECASE)


def digits_for(se: float | None, least: int = 2) -> int:
    """Decimals that show a value to the first digit of its standard error (at least ``least``; a driver in
    milliseconds has slopes of 1e-7, which six decimals would print as zero)."""
    if se is None or not math.isfinite(se) or se <= 0:
        return least
    return int(min(15, max(least, -math.floor(math.log10(se)))))


class Scale:
    """How the outcome's values are written: points as they are, or a probability in percentage points."""

    def __init__(self, binary: bool, se: float | None):
        self.binary = binary
        self.factor = 100.0 if binary else 1.0
        self.suffix = " percentage points" if binary else ""
        self.digits = digits_for(None if se is None else se * self.factor, least=1 if binary else 2)

    def __call__(self, value: float, signed: bool = True) -> str:
        value = value * self.factor + 0.0
        if round(value, self.digits) == 0:
            value = 0.0
        return f"{value:+.{self.digits}f}" if signed else f"{value:.{self.digits}f}"

    def interval(self, e: Estimate) -> str:
        """'-0.12 (95% CI -0.15 to -0.09)' in the outcome's unit."""
        return f"{self(e.value)}{self.suffix} ({e.ci_level:.0%} CI {self(e.ci_low)} to {self(e.ci_high)})"

    def inline(self, e: Estimate) -> str:
        """'-0.12, 95% CI -0.15 to -0.09' (inside parentheses of its own)."""
        return f"{self(e.value)}{self.suffix}, {e.ci_level:.0%} CI {self(e.ci_low)} to {self(e.ci_high)}"

    def bounds(self, e: Estimate) -> str:
        """'95% CI -0.15 to -0.09'."""
        return f"{e.ci_level:.0%} CI {self(e.ci_low)} to {self(e.ci_high)}"

    def size(self, value: float) -> str:
        """'lower by 0.12' or 'higher by 0.12' (with the unit)."""
        return f"{'lower' if value < 0 else 'higher'} by {self(abs(value), signed=False)}{self.suffix}"


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def is_survey(outcome: str, declared: bool | None = None) -> bool:
    """Whether the outcome is a survey answer: as declared, else by its name (csat, review_score, rating, ...)."""
    return bool(SURVEY_WORDS.search(outcome)) if declared is None else declared


def comparison(r) -> str:
    """'Rows one unit higher in x have' or 'Rows with x = 1 have' (the subject of the headline sentence)."""
    driver = text(r.driver)
    if r.model.driver_kind.kind == "binary":
        return f"Rows with {driver} = 1 have"
    return f"Rows one unit higher in {driver} have"


def _be(items: list[str]) -> str:
    return "goes" if len(items) == 1 else "go"


def headline(r, scale: Scale) -> list[Finding]:
    """The adjusted association, then the naive one beside it."""
    adjusted, naive, m = r.adjusted, r.naive, r.model
    outcome, driver = text(r.outcome), text(r.driver)
    controls = [text(c) for c in m.controls]
    held = listed(controls)
    held_words = f"{held} held fixed" if held else "nothing held fixed (no control given)"
    binary_driver = m.driver_kind.kind == "binary"
    against = f" than rows with {driver} = 0" if binary_driver else ""
    rows = f"{adjusted.n:,} rows, {p_value(adjusted.p_value)}"
    if adjusted.ci_low <= 0 <= adjusted.ci_high:
        pair = (f"rows with {driver} = 1 and rows with {driver} = 0 differ" if binary_driver else
                f"rows one unit apart in {driver} differ")
        body = (f"With {held_words}, {pair} in {f'the share with {outcome} = 1' if scale.binary else outcome} by "
                f"{scale.inline(adjusted)} "
                f"({rows}): the interval includes zero, so these rows do not show which way the association goes.")
    elif scale.binary:
        size = f"{scale(abs(adjusted.value), signed=False)} percentage points {'less' if adjusted.value < 0 else 'more'} often"
        body = (f"{comparison(r)} {outcome} = 1 {size}{against} (adjusted, {scale.bounds(adjusted)}), with {held_words} "
                f"({rows}).")
    else:
        what = "difference" if binary_driver else "slope"
        body = (f"{comparison(r)} {outcome} {scale.size(adjusted.value)}{against} (adjusted {what} {scale.inline(adjusted)}), "
                f"with {held_words} ({rows}).")
    lines = [Finding(f"**{driver} and {outcome}.** {body} This is an observational association: it does not measure what "
                     "changing it would do.", (adjusted.name,), headline=True, section=SECTION)]
    if not m.controls:
        return lines
    if naive.ci_low <= adjusted.value <= naive.ci_high:
        lines.append(Finding(f"**Naive versus adjusted.** With nothing held fixed the slope is {scale.interval(naive)}; it "
                             "agrees with the adjusted one within its interval.", (naive.name, adjusted.name)))
    else:
        larger = abs(naive.value) > abs(adjusted.value)
        share = abs(naive.value - adjusted.value) / abs(naive.value) if naive.value else math.nan
        moved = f" ({share:.0%} of it)" if math.isfinite(share) and larger else ""
        lines.append(Finding(
            f"**Naive versus adjusted.** With nothing held fixed the slope is {scale.interval(naive)}; holding {held} fixed "
            f"moves it to {scale(adjusted.value)}{scale.suffix}{moved}, outside the naive interval: part of the naive "
            f"association travels with {held}, which {_be(controls)} with both {driver} and {outcome}.",
            (naive.name, adjusted.name), headline=True, section=SECTION))
    return lines


def check(r, scale: Scale) -> list[Finding]:
    """The logit or ordered-logit check against the least-squares headline."""
    if r.check is None:
        return []
    if isinstance(r.check, Skipped):
        return [skipped(r.check.section, r.check.reason)]
    c, adjusted = r.check, r.adjusted
    agree = c.ci_low <= adjusted.value <= c.ci_high and adjusted.ci_low <= c.value <= adjusted.ci_high
    verdict = ("agrees with the least-squares slope within both intervals" if agree else
               f"differs from the least-squares slope {scale(adjusted.value)}{scale.suffix}: the straight-line model "
               "may not suit this outcome, read the check beside the headline")
    if r.model.outcome_kind.kind == "binary":
        lead = (f"**Logit check.** A logit with the same controls gives an average change in the probability that "
                f"{text(r.outcome)} is 1 of {scale.interval(c)}")
    else:
        lead = (f"**Ordered-scale check.** Read as an ordered scale (ordered logit, same controls), the expected "
                f"{text(r.outcome)} differs by {scale.interval(c)}")
    return [Finding(f"{lead} {'per unit of ' + text(r.driver) if r.model.driver_kind.kind == 'numeric' else 'for 1 versus 0'}; "
                    f"it {verdict}.", (c.name, adjusted.name))]


def shape(r, scale: Scale) -> list[Finding]:
    """Where the curve lies at the driver's 5th, 95th and 99th percentiles, its step at zero, and whether it is straight."""
    if r.shape is None:
        return []
    if isinstance(r.shape, Skipped):
        return [skipped(r.shape.section, r.shape.reason)]
    s = r.shape
    driver = text(r.driver)
    # The curve's points are differences over a range of the driver: their own standard errors set the decimals.
    scale = Scale(scale.binary, min((e.se for e in s.estimates if e.se), default=None))
    parts = [f"{scale.size(e.value)} at {e.extra['at']:g} ({scale.bounds(e)})" for e in s.quoted]
    sentence = (f"**Shape.** Against {driver} = {s.reference:g} ({s.reference_reason}), with the same controls held fixed, "
                f"{text(r.outcome)} is {listed(parts)}.")
    step = s.jump()
    if step is not None:
        sentence += (f" Just above zero the curve steps by {scale.interval(step)}: crossing zero goes with a difference "
                     "of its own" + (", beyond the slope." if not step.ci_low <= 0 <= step.ci_high else
                                     "; here its interval includes zero."))
    sentence += (f" A straight line departs from this curve ({p_value(s.nonlinearity_p)}): the slope is an average over a "
                 "bent relationship, so read the curve." if s.nonlinearity_p < r.alpha else
                 f" A straight line describes it as well as the curve does ({p_value(s.nonlinearity_p)}).")
    method = f"restricted cubic spline, {len(s.knots)} knots" + (", a step and a change of slope allowed at zero" if step else "")
    return [Finding(f"{sentence} ({method[:1].upper() + method[1:]}.)", tuple(e.name for e in s.estimates))]


def response(r, scale: Scale) -> list[Finding]:
    """Who has an outcome (answered the survey), and how that goes with the driver."""
    e, m = r.response, r.model
    if e is None:
        return []
    if isinstance(e, Skipped):
        return [skipped(e.section, e.reason)]
    total = len(m.rows) + len(m.unanswered)
    share = len(m.rows) / total
    lead = "Who answers." if r.survey else "Who has an outcome."
    pp = e.value * 100
    digits = digits_for(e.se * 100)
    words = (f"rows one unit higher in {text(r.driver)} have one" if m.driver_kind.kind == "numeric"
             else f"rows with {text(r.driver)} = 1 have one")
    sentence = (f"**{lead}** {share:.1%} of the {total:,} rows with {text(r.driver)} and every control have a "
                f"{text(r.outcome)}; {words} {abs(pp):.{digits}f} percentage points {'more' if pp > 0 else 'less'} often "
                f"({e.ci_level:.0%} CI {e.ci_low * 100:+.{digits}f} to {e.ci_high * 100:+.{digits}f}, same controls).")
    if r.survey:
        sentence += (" The association above is among those who answered: if answering also goes with how satisfied "
                     "someone is, it describes answerers, not every row.")
    return [Finding(sentence, (e.name,))]


def caveats(r, name=str) -> list[str]:
    """What the adjusted association holds fixed and what it cannot rule out, in words (``name`` writes a column name)."""
    m = r.model
    controls = listed([name(c) for c in m.controls])
    driver, outcome = name(r.driver), name(r.outcome)
    lines = [
        (f"Held fixed: {controls} (text controls compared within each of their values, numeric controls as straight "
         "lines)." if controls else "Nothing is held fixed: no control was given, so the slope mixes in everything "
                                    "that goes with the driver."),
        (f"Not held fixed: anything else that goes with both {driver} and {outcome}; the sensitivity section says how "
         "strong such a factor would have to be."),
        (f"Direction: the data shows that {driver} and {outcome} go together, not which one moves the other; when "
         f"{outcome} could come first or shape {driver}, part of the association may run that way."),
        ("A control that is itself a consequence of the driver (a step between the driver and the outcome) takes away "
         "part of the association it carries: list only controls fixed before the driver."),
    ]
    if r.survey:
        lines.append(f"{outcome} is a survey answer: it exists only for those who answered, and whether someone "
                     "answers can go with both their experience and their satisfaction.")
    return lines


def caveat_finding(r) -> Finding:
    return Finding("**What this shows and does not show.** " + " ".join(caveats(r, text)))


def truth(r, values: dict) -> list[Finding]:
    """A check of each interval against a simulation's true values (``{estimate name: true value}``)."""
    checks = []
    for estimate, what, expected in [(r.naive, "naive", "the naive slope holds nothing fixed"), (r.adjusted, "adjusted", ""),
                                     (r.check if isinstance(r.check, Estimate) else None, "check", "")]:
        if estimate is not None and values.get(estimate.name) is not None:
            truths = ", ".join(f"{key} {values[name]:+.4f}" for key, name in (("naive", r.naive.name), ("adjusted", r.adjusted.name))
                               if values.get(name) is not None)
            checks.append(TruthCheck(f"{text(r.driver)} (true values: {truths})", what, f"{what} {text(r.driver)}", estimate,
                                     float(values[estimate.name]), expected=expected, digits=4))
    return truth_checks("Check against the simulation's truth", checks)


def findings(r, values: dict | None = None) -> Findings:
    """Every finding of a driver analysis in reading order (a skipped analysis: why, and nothing else)."""
    if r.skipped:
        return Findings([skipped("the driver analysis", r.skipped, headline=True)])
    scale = Scale(r.model.outcome_kind.kind == "binary", r.adjusted.se)
    lines = headline(r, scale)
    lines += check(r, scale)
    if values:
        lines += truth(r, values)
    lines += shape(r, scale)
    if isinstance(r.confounding, Skipped):
        lines.append(skipped(r.confounding.section, r.confounding.reason))
    elif r.confounding is not None:
        lines.append(r.confounding.finding())
    lines += response(r, scale)
    if r.wild and "p_value" in r.wild:
        lines.append(Finding(
            f"**Few clusters.** With {r.wild['clusters']} values of {text(r.model.cluster)}, the adjusted slope's p-value from "
            f"the wild cluster bootstrap (Rademacher weights, null imposed, {r.wild['replicates']:,} draws) is "
            f"{format_p(r.wild['p_value'])}, beside {p_value(r.adjusted.p_value)} from t({r.wild['clusters'] - 1}).",
            (r.adjusted.name,)))
    lines.append(caveat_finding(r))
    return Findings(lines)
