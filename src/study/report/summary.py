"""Executive summary of a run: one plain sentence per key finding and a verdict per experiment.

Everything here is read from the results files of the run (``results/<analysis>.json``, see
:func:`study.core.results.write_results`), never from notebook text, so a number in the summary is the
number in the results. An estimate that is not there (a skipped or failed analysis, an optional
column absent, an undefined lift) is left out; nothing is filled in. The functions are pure: results
dicts in, dataclasses out. The text is plain (not HTML): the index template escapes it.

Typical use::

    results = summary.read_results(out / "results")
    executive = summary.summarize(results, runs=[asdict(r) for r in runs])
    executive.to_dict()  # for run.json
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from study.analyses import AB_TEST, DRIVERS, EXPERIMENT, OVERVIEW, REPEAT
from study.core.results import format_p
from study.core.words import resolution_versus_speed

SHIP, DONT_SHIP, INCONCLUSIVE = "ship", "don't ship", "inconclusive"
ERROR_ANCHOR = "papermill-error-cell"  # papermill marks the cell that failed; a failed report may have no Findings
ANCHOR = "Findings"  # heading id of each report's Findings section (nbconvert derives it from "## Findings")

# The SLA experiment (04): CSAT is the primary metric; buying again and spending are guardrails.
SLA_PRIMARY = "csat"
SLA_GUARDRAILS = ("repeat_purchase", "customer_repeat_rate", "customer_spend")
METRIC_WORDS = {
    "csat": "CSAT", "repeat_purchase": "repeat purchase", "customer_repeat_rate": "repeat rate per customer",
    "customer_spend": "follow-up spend per customer", "survey_response": "survey response rate",
}
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
PLAIN3 = Unit(1.0, 3)


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


@dataclass(frozen=True)
class Verdict:
    """Ship, don't ship or inconclusive for one treatment arm of an experiment.

    Attributes
    ----------
    analysis : str
    experiment : str
        What was compared, in words, e.g. ``SLA experiment, treatment vs control``.
    decision : str
        ``ship``, ``don't ship`` or ``inconclusive`` (see :func:`verdict`).
    reason : str
        Why, in one sentence.
    href : str or None
    primary : str
        Name of the primary metric's estimate.
    guardrails : tuple of str
        Names of the guardrail estimates checked.
    harmed : tuple of str
        Names of the guardrail estimates whose interval lies entirely below zero.
    """

    analysis: str
    experiment: str
    decision: str
    reason: str
    href: str | None
    primary: str
    guardrails: tuple[str, ...] = ()
    harmed: tuple[str, ...] = ()


@dataclass
class ExecutiveSummary:
    """The sentences and verdicts of a run, in analysis order."""

    sentences: list[Sentence] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sentences or self.verdicts)

    def to_dict(self) -> dict:
        """Machine-readable form for ``run.json``."""
        return {
            "sentences": [{**asdict(s), "estimates": list(s.estimates)} for s in self.sentences],
            "verdicts": [{**asdict(v), "guardrails": list(v.guardrails), "harmed": list(v.harmed)} for v in self.verdicts],
        }


# --- reading estimates -------------------------------------------------------------------------

def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def usable(estimate: Mapping | None, interval: bool = True) -> bool:
    """Whether an estimate has a finite value (and, with ``interval``, finite bounds)."""
    if not estimate or not _finite(estimate.get("value")):
        return False
    return not interval or (_finite(estimate.get("ci_low")) and _finite(estimate.get("ci_high")))


def estimates_by_name(payload: Mapping | None) -> dict[str, dict]:
    """``{name: estimate}`` of a results payload (check each with :func:`usable` before quoting it)."""
    if not payload:
        return {}
    return {str(e["name"]): e for e in payload.get("estimates") or [] if isinstance(e, Mapping) and "name" in e}


def _get(found: Mapping[str, dict], name: str) -> dict | None:
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


# --- words -------------------------------------------------------------------------------------

def _level(estimate: Mapping) -> str:
    level = estimate.get("ci_level")
    return f"{level if _finite(level) else 0.95:.0%} CI"


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
    level = f"{_level(estimate)} " if with_level else ""
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
    level = f"{_level(estimate)} " if with_level else ""
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


def _holding(estimate: Mapping, focus: str = "response_log2_hours") -> str:
    controls = controls_words(str(estimate.get("model", "")), focus)
    return f", holding {controls} fixed" if controls else ""


def _href(analysis: str, runs: Mapping[str, Mapping]) -> str | None:
    run = runs.get(analysis)
    if run is None:
        return f"{analysis}.html#{ANCHOR}"
    return f"{run['html']}#{ANCHOR}" if run.get("html") else None


# --- the analyses -------------------------------------------------------------------------------

def overview_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """01: mean CSAT and the repeat-purchase rate, the baseline the other numbers move."""
    found = estimates_by_name(payload)
    csat, answered, repeat = (_get(found, n) for n in ("csat_mean", "survey_response_rate", "repeat_purchase_rate"))
    parts, used = [], []
    if csat:
        share = f" among the {PCT(answered['value'])} of tickets with a survey answer" if answered else ""
        parts.append(f"mean CSAT is {csat['value']:.2f} on the 1-5 scale ({_level(csat)} {csat['ci_low']:.2f} to "
                     f"{csat['ci_high']:.2f}){share}")
        used += ["csat_mean"] + (["survey_response_rate"] if answered else [])
    if repeat:
        parts.append(f"{PCT(repeat['value'])} of tickets ({_level(repeat)} {PCT(repeat['ci_low'], bound=True)} to "
                     f"{PCT(repeat['ci_high'], bound=True)}) were followed by a repeat purchase")
        used.append("repeat_purchase_rate")
    if not parts:
        return []
    text = "Baseline: " + "; ".join(parts) + " (descriptive, nothing adjusted)."
    return [Sentence(OVERVIEW, text, href, tuple(used))]


def skipped_notes(payload: Mapping | None) -> dict[str, str]:
    """``{section: reason}`` of the notes ``"<section>: skipped, <reason>"`` of a results payload."""
    out = {}
    for note in (payload or {}).get("notes") or []:
        if isinstance(note, str) and ": skipped, " in note:
            section, reason = note.split(": skipped, ", 1)
            out.setdefault(section, reason)
    return out


def _skipped_sentence(analysis: str, what: str, reason: str, href: str | None) -> Sentence:
    return Sentence(analysis, f"{what} was skipped: {reason}.", href, (), "skipped")


def drivers_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """02: the adjusted speed effect beside the naive and randomized ones; resolution against speed."""
    found = estimates_by_name(payload)
    out = []
    adjusted = _get(found, "csat_per_doubling_adjusted")
    if adjusted:
        sign = direction(adjusted)
        text = (f"Each doubling of first response time "
                f"{change(adjusted, CSAT_POINTS, 'raises CSAT', 'lowers CSAT', 'changes CSAT')} on the 1-5 scale"
                f"{_holding(adjusted)} — observational")
        used = ["csat_per_doubling_adjusted"]
        others = []
        naive = _get(found, "csat_per_doubling_naive")
        if naive:
            others.append(f"the naive comparison (nothing held fixed) gives {oriented(naive, PLAIN, sign)}")
            used.append("csat_per_doubling_naive")
        randomized = _get(found, "csat_per_doubling_randomized")
        if randomized:
            others.append(f"the randomized estimate from the SLA experiment is {oriented(randomized, PLAIN, sign)}")
            used.append("csat_per_doubling_randomized")
        if others:
            text += "; " + ", and ".join(others)
        out.append(Sentence(DRIVERS, text + ".", href, tuple(used)))
    resolved = _get(found, "csat_resolved_adjusted")
    if resolved:
        text = (f"Resolving the customer's problem "
                f"{change(resolved, CSAT_POINTS, 'raises CSAT', 'lowers CSAT', 'changes CSAT')}{_holding(resolved, 'resolved')} "
                "— observational")
        used = ["csat_resolved_adjusted"]
        day = _get(found, "csat_24h_vs_1h_adjusted")
        if day:
            day_sign = direction(day)
            cost = (f"costs {oriented(day, CSAT_POINTS, -1, with_level=True)}" if day_sign < 0 else
                    f"changes CSAT by {oriented(day, CSAT_POINTS, 0, with_level=True)}")
            text += f"; a first reply in 24 hours instead of 1 hour {cost}, so {resolution_versus_speed(_interval(resolved), _interval(day))}"
            used.append("csat_24h_vs_1h_adjusted")
        out.append(Sentence(DRIVERS, text + ".", href, tuple(used)))
    if not adjusted:
        reason = skipped_notes(payload).get("naive and adjusted models")
        if reason:
            out.append(_skipped_sentence(DRIVERS, "The model of CSAT on response speed (observational)", reason, href))
    return out


def _interval(estimate: Mapping) -> tuple[float, float]:
    return estimate["ci_low"], estimate["ci_high"]


def repeat_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """03: repeat purchase per doubling of the wait, and the share of it that runs through CSAT."""
    found = estimates_by_name(payload)
    out = []
    total = _get(found, "repeat_per_doubling_total")
    if total:
        out.append(Sentence(REPEAT, (
            "Each doubling of first response time "
            f"{change(total, PP, 'raises the chance of a repeat purchase', 'lowers the chance of a repeat purchase', 'changes the chance of a repeat purchase')}"
            f"{_holding(total)} — observational."), href, ("repeat_per_doubling_total",)))
    share = _get(found, "share_of_speed_effect_via_csat")
    if share:
        out.append(Sentence(REPEAT, (
            f"Of the speed effect on repeat purchase among survey respondents, {SHARE(share['value'])} "
            f"({_level(share)} {SHARE(share['ci_low'], bound=True)} to {SHARE(share['ci_high'], bound=True)}) runs "
            "through satisfaction (mediation analysis; it assumes nothing unmeasured drives both CSAT and buying again)."),
            href, ("share_of_speed_effect_via_csat",)))
    skipped = skipped_notes(payload)
    if not total and skipped.get("logit without CSAT"):
        out.append(_skipped_sentence(REPEAT, "The model of repeat purchase on response speed", skipped["logit without CSAT"], href))
    if not share and skipped.get("mediation") and skipped.get("mediation") != skipped.get("logit without CSAT"):
        out.append(_skipped_sentence(REPEAT, "The share of the speed effect that runs through satisfaction",
                                     skipped["mediation"], href))
    return out


def srm_broken(srm: Mapping | None, threshold: float | None = None) -> bool:
    """Whether a sample-ratio estimate flags a mismatch: ``extra.mismatch`` true, or its p below the threshold.

    The threshold is ``threshold`` when given (the analysis's ``srm_alpha``), else one minus the
    estimate's ``ci_level`` (the results file stores the check's alpha that way).
    """
    if not srm:
        return False
    if (srm.get("extra") or {}).get("mismatch") is True:
        return True
    p = srm.get("p_value")
    if threshold is None:
        threshold = 1 - (srm.get("ci_level") or 0.999)
    return _finite(p) and p < threshold


def _srm_threshold(payload: Mapping) -> float | None:
    alpha = (payload.get("parameters") or {}).get("srm_alpha")
    return float(alpha) if _finite(alpha) else None


def srm_sentence(analysis: str, srm: Mapping, threshold: float | None, href: str | None, units: str) -> Sentence:
    """The sample-ratio check in one sentence."""
    counts = (srm.get("extra") or {}).get("counts") or {}
    split = ", ".join(f"{arm} {n:,}" for arm, n in counts.items())
    per_arm = f" ({split})" if split else ""
    p = f" ({p_words(srm['p_value'])})" if _finite(srm.get("p_value")) else ""
    if not _finite(srm.get("value")) or not _finite(srm.get("p_value")):
        return Sentence(analysis, f"The sample-ratio check was skipped: {units} per arm{per_arm} leave nothing to test.",
                        href, (), "skipped")
    if srm_broken(srm, threshold):
        text = (f"Sample ratio mismatch: {units} per arm{per_arm} differ from the planned split{p} — the split "
                "is broken, so the comparisons cannot be trusted until the cause is found.")
    else:
        text = f"Design check passed: {units} per arm{per_arm} are consistent with the planned split{p}."
    return Sentence(analysis, text, href, ("sample_ratio_chi2",), "check")


def _arms(estimate: Mapping) -> tuple[str, str]:
    arms = (estimate.get("extra") or {}).get("arms") or {}
    return str(arms.get("control", "control")), str(arms.get("treatment", "treatment"))


def _is_whole(estimate: Mapping) -> bool:
    """An engine comparison of the whole experiment (not a segment)."""
    extra = estimate.get("extra") or {}
    return "arms" in extra and not extra.get("segment")


def _comparisons(found: Mapping[str, dict], what: str) -> list[dict]:
    """Whole-experiment engine estimates of one kind (``effect`` or ``relative_lift``), in file order."""
    return [e for e in found.values() if _is_whole(e) and e["name"].startswith(f"{(e.get('extra') or {}).get('metric')}_{what}_")]


def _lift_for(found: Mapping[str, dict], effect: Mapping) -> dict | None:
    metric = effect["extra"]["metric"]
    for e in _comparisons(found, "relative_lift"):
        if e["extra"].get("metric") == metric and _arms(e) == _arms(effect):
            return e if usable(e) else None
    return None


def _unit_of(effect: Mapping, known: Mapping[str, Unit] | None = None) -> Unit:
    """Percentage points for rates (both arms' values within 0 and 1), else the metric's own unit."""
    metric = (effect.get("extra") or {}).get("metric")
    if known and metric in known:
        return known[metric]
    values = list(((effect.get("extra") or {}).get("value_by_arm") or {}).values())
    if values and all(_finite(v) and 0 <= v <= 1 for v in values):
        return PP
    return PLAIN3


def effect_sentence(analysis: str, lead: str, verbs: tuple[str, str, str], effect: Mapping, lift: Mapping | None,
                    unit: Unit, href: str | None, note: str = "") -> Sentence:
    """'{lead} {raised X} by ... (95% CI ...), from A to B — a +X% relative lift (95% CI ...), p = ...{note}.'

    ``verbs`` are the phrases for a rise, a fall and an interval that includes zero (see :func:`change`).
    """
    control, treatment = _arms(effect)
    text = f"{lead} {change(effect, unit, *verbs)}"
    values = (effect.get("extra") or {}).get("value_by_arm") or {}
    if _finite(values.get(control)) and _finite(values.get(treatment)):
        show = PCT if unit is PP else (lambda v: f"{v:.{unit.digits}f}")
        text += f", from {show(values[control])} to {show(values[treatment])}"
    used = [effect["name"]]
    if lift:
        text += (f" — a {PCT(lift['value'], signed=True)} relative lift ({_level(lift)} "
                 f"{PCT(lift['ci_low'], True, True)} to {PCT(lift['ci_high'], True, True)})")
        used.append(lift["name"])
    p = effect.get("p_value")
    text += (f", {p_words(p)}" if _finite(p) else "") + f"{note}."
    return Sentence(analysis, text, href, tuple(used))


def _find_mde(found: Mapping[str, dict], effect: Mapping) -> dict | None:
    """A power estimate for the effect's metric and arms: a name containing 'mde' with matching ``extra``."""
    metric = effect["extra"]["metric"]
    for e in found.values():
        extra = e.get("extra") or {}
        if "mde" in e["name"].lower() and extra.get("metric") == metric and not extra.get("segment") \
                and (not extra.get("arms") or _arms(e) == _arms(effect)) and usable(e, interval=False):
            return e
    return None


def _first_upper(text: str) -> str:
    """Capitalize a sentence that starts with our own words (callers never start one with data)."""
    return text[:1].upper() + text[1:]


def verdict(analysis: str, experiment: str, primary: Mapping, primary_words: str, guardrails: Sequence[tuple[Mapping, str]],
            srm: Mapping | None, srm_threshold: float | None = None, mde: Mapping | None = None,
            unit: Unit = PLAIN, href: str | None = None, units: Mapping[str, Unit] | None = None) -> Verdict:
    """Ship, don't ship or inconclusive, with the reason in one sentence.

    Every metric is read as higher-is-better, and the rules are applied in this order:

    1. **Sample-ratio mismatch → inconclusive.** The SRM estimate's ``extra.mismatch`` is true, or its
       p-value is below its threshold (``srm_threshold``, else one minus its ``ci_level``): the split is
       broken, and the comparison cannot be trusted whatever it shows.
    2. **Ship.** The primary metric's interval lies entirely above zero, and no guardrail's interval
       lies entirely below zero.
    3. **Don't ship.** The primary metric's interval lies entirely below zero, or a guardrail's interval
       lies entirely below zero (significantly harmed), whatever the primary metric did.
    4. **Inconclusive** otherwise: the primary metric's interval includes zero. When the results hold a
       minimum-detectable-effect estimate for the metric (``mde``), the reason gives it.

    Parameters
    ----------
    analysis : str
    experiment : str
        What is compared, in words.
    primary : mapping
        The primary metric's effect estimate (value, ci_low, ci_high: finite).
    primary_words : str
        The primary metric in words, starting with our own words (it may be capitalized), e.g. 'CSAT'.
    guardrails : sequence of (mapping, str)
        Each guardrail's effect estimate and its words; estimates without an interval are ignored.
    srm : mapping or None
        The sample-ratio estimate (``sample_ratio_chi2``); ``None`` when the results hold none.
    srm_threshold : float, optional
    mde : mapping, optional
        Minimum detectable effect of the primary metric, in its unit.
    unit : Unit
        How to write the primary metric's effect.
    href : str, optional
    units : mapping, optional
        Metric name -> Unit for guardrails (default: percentage points for rates, else plain).

    Returns
    -------
    Verdict
    """
    checked = [(g, words) for g, words in guardrails if usable(g)]
    names = tuple(g["name"] for g, _ in checked)
    harmed = [(g, words) for g, words in checked if g["ci_high"] < 0]
    common = {"analysis": analysis, "experiment": experiment, "href": href, "primary": primary["name"],
              "guardrails": names, "harmed": tuple(g["name"] for g, _ in harmed)}
    if srm_broken(srm, srm_threshold):
        alarm = srm_threshold if srm_threshold is not None else 1 - (srm.get("ci_level") or 0.999)
        why = (f", {p_words(srm['p_value'])} against the planned split, alarm below p = {alarm:g}"
               if _finite(srm.get("p_value")) else "")
        return Verdict(decision=INCONCLUSIVE, reason=(
            f"The split is broken (sample ratio mismatch{why}), so the comparison cannot be trusted; "
            "find the cause before reading any effect."), **common)
    moved = change(primary, unit, f"{primary_words} rose", f"{primary_words} fell", f"{primary_words} changed")
    sign = direction(primary)
    if harmed:
        hurt = "; ".join(f"the guardrail {words} {change(g, _unit_of(g, units), 'rose', 'fell', 'changed')}"
                         for g, words in harmed)
        return Verdict(decision=DONT_SHIP, reason=(
            f"A guardrail was significantly harmed: {hurt}, entirely below zero"
            + (f", even though {moved}." if sign > 0 else f"; {moved}.")), **common)
    if sign > 0:
        guard = (f", and no guardrail ({', '.join(words for _, words in checked)}) was significantly harmed"
                 if checked else " (the results hold no guardrail metric)")
        return Verdict(decision=SHIP, reason=f"{_first_upper(moved)}, an interval entirely above zero{guard}.", **common)
    if sign < 0:
        return Verdict(decision=DONT_SHIP, reason=f"{_first_upper(moved)}, an interval entirely below zero.", **common)
    detect = ""
    if mde:
        detect = (f"; this experiment could reliably detect only effects of about {unit(abs(mde['value']))} or more "
                  "(minimum detectable effect), so a smaller effect may be there unseen")
    return Verdict(decision=INCONCLUSIVE, reason=(
        f"{_first_upper(moved)}: the interval includes zero, so the data cannot tell a gain from a loss"
        f"{detect}."), **common)


def ab_test_parts(payload: Mapping, href: str | None) -> tuple[list[Sentence], list[Verdict]]:
    """04: the sample-ratio check, the SLA's effect on CSAT and repeat purchase, and the verdict."""
    found = estimates_by_name(payload)
    threshold = _srm_threshold(payload)
    srm = found.get("sample_ratio_chi2")
    sentences = [srm_sentence(AB_TEST, srm, threshold, href, "customers")] if srm else []
    broken = srm_broken(srm, threshold)
    note = " (but the split is broken: do not trust it)" if broken else ""
    units = {"csat": CSAT_POINTS, "repeat_purchase": PP, "customer_repeat_rate": PP, "customer_spend": PLAIN}
    effects = {e["extra"]["metric"]: e for e in _comparisons(found, "effect")
               if _arms(e) == ("control", "treatment") and usable(e)}
    for metric, lead in (("csat", "The faster-response SLA"), ("repeat_purchase", "The SLA")):
        if metric in effects:
            words = METRIC_WORDS[metric]
            sentences.append(effect_sentence(
                AB_TEST, lead, (f"raised {words}", f"lowered {words}", f"changed {words}"), effects[metric],
                _lift_for(found, effects[metric]), units[metric], href,
                note or (" — randomized, so causal for customers who answer the survey" if metric == "csat" else "")))
    skipped = skipped_notes(payload)
    for metric in ("csat", "repeat_purchase"):
        reason = skipped.get(f"comparison of {METRIC_WORDS[metric]}")
        if metric not in effects and reason:
            sentences.append(_skipped_sentence(AB_TEST, f"The SLA's effect on {METRIC_WORDS[metric]}", reason, href))
    verdicts = []
    primary = effects.get(SLA_PRIMARY)
    if primary:
        guardrails = [(effects[m], METRIC_WORDS[m]) for m in SLA_GUARDRAILS if m in effects]
        verdicts.append(verdict(AB_TEST, "SLA experiment (faster first response), treatment vs control", primary,
                                METRIC_WORDS[SLA_PRIMARY], guardrails, srm, threshold, _find_mde(found, primary),
                                CSAT_POINTS, href, units))
    return sentences, verdicts


def experiment_parts(payload: Mapping, href: str | None) -> tuple[list[Sentence], list[Verdict]]:
    """05: the sample-ratio check, the primary metric's effect per treatment arm, and a verdict per arm.

    The primary metric is the first metric of the column map (``parameters.column_map.metrics``), the
    others are guardrails; without a column map in the results, the first metric compared.
    """
    found = estimates_by_name(payload)
    threshold = _srm_threshold(payload)
    srm = found.get("sample_ratio_chi2")
    sentences = [srm_sentence(EXPERIMENT, srm, threshold, href, "units")] if srm else []
    broken = srm_broken(srm, threshold)
    effects = _comparisons(found, "effect")
    if not effects:
        return sentences, []
    listed = ((payload.get("parameters") or {}).get("column_map") or {}).get("metrics") or []
    metrics = [str(m) for m in listed] or list(dict.fromkeys(e["extra"]["metric"] for e in effects))
    primary_metric = metrics[0]
    verdicts = []
    for effect in effects:
        if effect["extra"]["metric"] != primary_metric or not usable(effect):
            continue
        control, treatment = _arms(effect)
        unit = _unit_of(effect)
        sentences.append(effect_sentence(
            EXPERIMENT, f"Arm {treatment} against {control}: the primary metric, {primary_metric},", ("rose", "fell", "changed"),
            effect, _lift_for(found, effect), unit, href, " (but the split is broken: do not trust it)" if broken else ""))
        guardrails = [(e, f"{e['extra']['metric']}") for e in effects
                      if e["extra"]["metric"] != primary_metric and _arms(e) == (control, treatment)]
        verdicts.append(verdict(EXPERIMENT, f"experiment table, {treatment} vs {control}", effect,
                                f"the primary metric, {primary_metric},", guardrails, srm, threshold,
                                _find_mde(found, effect), unit, href))
    return sentences, verdicts


def failed_sentence(run: Mapping) -> Sentence:
    """One sentence saying an analysis failed and where to look."""
    name = run["name"]
    reason = f" ({run['reason']})" if run.get("reason") else ""
    where = f"its report {run['html']} shows where" if run.get("html") else "no report was written"
    return Sentence(name, f"{run.get('title') or name} failed{reason}: none of its numbers are in this summary; "
                          f"{where}, and logs/{name}.log has the kernel's messages.",
                    f"{run['html']}#{ERROR_ANCHOR}" if run.get("html") else None, (), "failed")


BUILDERS = {OVERVIEW: overview_sentences, DRIVERS: drivers_sentences, REPEAT: repeat_sentences}
EXPERIMENTS = {AB_TEST: ab_test_parts, EXPERIMENT: experiment_parts}


def summarize(results: Mapping[str, Mapping], runs: Sequence[Mapping] | None = None) -> ExecutiveSummary:
    """The executive summary of a run from its results files.

    Parameters
    ----------
    results : mapping
        ``{analysis: payload}`` of ``results/<analysis>.json`` (:func:`read_results`).
    runs : sequence of mapping, optional
        What happened to each analysis (``name``, ``status``, ``reason``, ``html``, ``title``), in the
        order of the index. A failed analysis gets one sentence saying so, and its results (if any)
        are not used; a skipped one gets nothing. Without ``runs``, every analysis with results is
        taken as run, with its report at ``<analysis>.html``.

    Returns
    -------
    ExecutiveSummary
        Sentences in analysis order (each with a link to its report's Findings), and a verdict for
        each experiment whose primary metric has an estimate (:func:`verdict`).
    """
    by_name = {run["name"]: run for run in runs or []}
    order = [run["name"] for run in runs] if runs is not None else sorted(results)
    executive = ExecutiveSummary()
    for analysis in order:
        run = by_name.get(analysis)
        if run is not None and run.get("status") == "failed":
            executive.sentences.append(failed_sentence(run))
            continue
        if run is not None and run.get("status") != "ok":
            continue
        payload = results.get(analysis)
        if not payload:
            continue
        href = _href(analysis, by_name)
        if analysis in BUILDERS:
            executive.sentences += BUILDERS[analysis](payload, href)
        elif analysis in EXPERIMENTS:
            sentences, verdicts = EXPERIMENTS[analysis](payload, href)
            executive.sentences += sentences
            executive.verdicts += verdicts
    return executive


def for_run(results_dir: str | Path, runs: Sequence) -> ExecutiveSummary:
    """:func:`summarize` on a run's results folder; ``runs`` are :class:`study.report.index.AnalysisRun` or mappings."""
    plain = [run if isinstance(run, Mapping) else
             {key: getattr(run, key, None) for key in ("name", "title", "status", "reason", "html")} for run in runs]
    return summarize(read_results(results_dir), plain)
