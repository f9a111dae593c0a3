"""Experiments in the executive summary: the ship / don't ship / inconclusive verdict, read from the results file.

One function, :func:`verdict`, decides, by the rules in its docstring; :func:`ab_test_verdicts` and
:func:`experiment_verdicts` find the estimates of 04 and 05 in their results files and call it once
per treatment arm. Each metric's role (primary, guardrail, secondary), its better direction and a
guardrail's non-inferiority margin come from the estimate's ``extra`` (:mod:`study.ab.roles`); results
written without them read as before: the first mapped metric primary, the others guardrails without
margin, higher better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from study.analyses import AB_TEST, EXPERIMENT
from study.core.inference import critical_value
from study.core.words import (
    CSAT_POINTS,
    METRIC_WORDS,
    PLAIN,
    PP,
    Unit,
    change,
    first_upper,
    p_value,
)
from study.report.sentences import estimates_by_name, finite, usable
from study.stats.multiple import holm

SHIP, DONT_SHIP, INCONCLUSIVE = "ship", "don't ship", "inconclusive"
PLAIN3 = Unit(1.0, 3)
SLA_UNITS = {"csat": CSAT_POINTS, "repeat_purchase": PP, "customer_repeat_rate": PP, "customer_spend": PLAIN,
             "survey_response": PP}
# Results of 04 written before metrics carried roles: CSAT decides, these guard.
SLA_DEFAULT_ROLES = {"csat": "primary", "repeat_purchase": "guardrail", "customer_repeat_rate": "guardrail",
                     "customer_spend": "guardrail"}


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
        Why, in words; data text in it is plain (the index page escapes it).
    href : str or None
    primary : str
        Name of the primary metric's estimate.
    guardrails : tuple of str
        Names of the guardrail estimates checked.
    harmed : tuple of str
        Guardrails shown to lose more than their margin (or, without a margin, to lose at all).
    unresolved : tuple of str
        Guardrails whose loss beyond their margin can be neither ruled out nor shown.
    """

    analysis: str
    experiment: str
    decision: str
    reason: str
    href: str | None
    primary: str
    guardrails: tuple[str, ...] = ()
    harmed: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    roles: dict = field(default_factory=dict)  # estimate name -> role, better direction and margin


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
    return finite(p) and p < _alarm(srm, threshold)


def _alarm(srm: Mapping, threshold: float | None) -> float:
    return threshold if threshold is not None else 1 - (srm.get("ci_level") or 0.999)


def _srm_threshold(payload: Mapping) -> float | None:
    alpha = (payload.get("parameters") or {}).get("srm_alpha")
    return float(alpha) if finite(alpha) else None


def _arms(estimate: Mapping) -> tuple[str, str]:
    arms = (estimate.get("extra") or {}).get("arms") or {}
    return str(arms.get("control", "control")), str(arms.get("treatment", "treatment"))


def _is_whole(estimate: Mapping) -> bool:
    """An engine comparison of the whole experiment (not a segment)."""
    extra = estimate.get("extra") or {}
    return "arms" in extra and not extra.get("segment")


def _comparisons(found: Mapping[str, dict], what: str) -> list[dict]:
    """Whole-experiment engine estimates of one kind (``effect``, ``relative_lift``, ``mde``), in file order."""
    return [e for e in found.values() if _is_whole(e) and e["name"].startswith(f"{(e.get('extra') or {}).get('metric')}_{what}_")]


def _unit_of(effect: Mapping, known: Mapping[str, Unit] | None = None) -> Unit:
    """Percentage points for rates (both arms' values within 0 and 1), else the metric's own unit."""
    metric = (effect.get("extra") or {}).get("metric")
    if known and metric in known:
        return known[metric]
    values = list(((effect.get("extra") or {}).get("value_by_arm") or {}).values())
    if values and all(finite(v) and 0 <= v <= 1 for v in values):
        return PP
    return PLAIN3


def _find_mde(found: Mapping[str, dict], effect: Mapping) -> dict | None:
    """The minimum detectable effect of the effect's metric and arms, where the results hold one."""
    metric = effect["extra"]["metric"]
    for e in _comparisons(found, "mde"):
        if e["extra"].get("metric") == metric and _arms(e) == _arms(effect) and usable(e, interval=False):
            return e
    return None


def _better(estimate: Mapping) -> int:
    return -1 if (estimate.get("extra") or {}).get("better") == "lower" else 1


def _level(estimate: Mapping) -> float:
    level = estimate.get("ci_level")
    return 1 - level if finite(level) and 0 < level < 1 else 0.05


def guardrail_status(guardrail: Mapping) -> str:
    """``ok``, ``harmed`` or ``unresolved`` for one guardrail estimate (rules 3 and 4 of :func:`verdict`)."""
    sign, margin = _better(guardrail), (guardrail.get("extra") or {}).get("margin")
    low, high = sorted((sign * guardrail["ci_low"], sign * guardrail["ci_high"]))
    if not finite(margin):
        return "harmed" if high < 0 else "ok"
    se = guardrail.get("se")
    if not finite(se) or se <= 0:
        return "unresolved"
    # One-sided test of "loss larger than the margin" at the estimate's own level alpha.
    half = critical_value(_level(guardrail), sides=1) * se
    gain = sign * guardrail["value"]
    if gain - half > -margin:
        return "ok"
    return "harmed" if gain + half < -margin else "unresolved"


def _guardrail_words(guardrail: Mapping, words: str, units: Mapping[str, Unit] | None) -> str:
    unit = _unit_of(guardrail, units)
    margin = (guardrail.get("extra") or {}).get("margin")
    moved = change(guardrail, unit, f"{words} rose", f"{words} fell", f"{words} changed")
    bound = f" (margin {unit(margin)})" if finite(margin) else ""
    return moved + bound


def verdict(analysis: str, experiment: str, primary: Mapping, primary_words: str, guardrails: Sequence[tuple[Mapping, str]],
            srm: Mapping | None, srm_threshold: float | None = None, mde: Mapping | None = None,
            unit: Unit = PLAIN, href: str | None = None, units: Mapping[str, Unit] | None = None,
            primary_p: float | None = None, arms_compared: int = 1) -> Verdict:
    """Ship, don't ship or inconclusive, with the reason in words.

    Each metric is read in its better direction (``extra.better``: ``higher`` or ``lower``), at the
    level of its own interval (alpha = 1 - ``ci_level``). The rules, in this order:

    1. **Sample-ratio mismatch → inconclusive: do not decide.** ``extra.mismatch`` is true or the SRM
       p-value is below its alarm level: the split is broken, and no comparison can be trusted.
    2. **The primary metric** moved when its p-value (``primary_p``: Holm-adjusted across the treatment
       arms when there are several, else its own) is below alpha; it improved or worsened by the sign
       of its estimate read in its better direction.
    3. **A guardrail is harmed** when a loss larger than its margin is shown (its one-sided bound at
       level alpha lies beyond the margin) or, without a margin, when its whole interval lies on the
       worse side of zero.
    4. **A guardrail is unresolved** when it has a margin and a loss larger than the margin can be
       neither ruled out (one-sided non-inferiority test at level alpha) nor shown.
    5. **Don't ship** when a guardrail is harmed, or the primary metric worsened.
    6. **Ship** when the primary metric improved and every guardrail is neither harmed nor unresolved.
    7. **Inconclusive** otherwise: the primary metric improved but a guardrail is unresolved, or the
       primary metric did not move; the reason then gives the minimum detectable effect and the units
       the next experiment needs, where the results hold them (``mde``).

    When the primary's ``extra.bounds`` holds Lee bounds (the outcome is seen only for responders and
    the treatment moved the response rate), rule 2 reads its interval (Imbens-Manski) instead.

    Under a monitoring plan (the primary's ``extra.sequential``, :mod:`study.ab.monitoring`) rule 2
    reads the plan's decision at this look instead of the p-value, and a primary that has not moved
    before the planned end is *inconclusive: keep collecting*.

    Parameters
    ----------
    analysis, experiment : str
    primary : mapping
        The primary metric's effect estimate (value, ci_low, ci_high: finite).
    primary_words : str
        The primary metric in words, starting with our own words (it may be capitalized).
    guardrails : sequence of (mapping, str)
        Each guardrail's effect estimate and its words; estimates without an interval are ignored.
    srm : mapping or None
        The sample-ratio estimate (``sample_ratio_chi2``).
    srm_threshold : float, optional
    mde : mapping, optional
        Minimum detectable effect of the primary metric (``extra.units_needed`` for the planned lift).
    unit : Unit
        How to write the primary metric's effect.
    href : str, optional
    units : mapping, optional
        Metric name -> Unit for guardrails (default: percentage points for rates, else plain).
    primary_p : float, optional
        The primary metric's p-value to judge it by (default: its own).
    arms_compared : int
        Treatment arms compared with control, for the reason's words.
    """
    checked = [(g, words) for g, words in guardrails if usable(g)]
    status = {g["name"]: guardrail_status(g) for g, _ in checked}
    harmed = [(g, w) for g, w in checked if status[g["name"]] == "harmed"]
    unresolved = [(g, w) for g, w in checked if status[g["name"]] == "unresolved"]
    common = {"analysis": analysis, "experiment": experiment, "href": href, "primary": primary["name"],
              "guardrails": tuple(status), "harmed": tuple(g["name"] for g, _ in harmed),
              "unresolved": tuple(g["name"] for g, _ in unresolved),
              "roles": {e["name"]: {key: (e.get("extra") or {}).get(key, default) for key, default in
                                    (("role", role), ("better", "higher"), ("margin", None))}
                        for e, role in [(primary, "primary"), *((g, "guardrail") for g, _ in checked)]}}
    if srm_broken(srm, srm_threshold):
        why = (f": {p_value(srm['p_value'])} against the planned split, below the alarm level of {_alarm(srm, srm_threshold):g}"
               if finite(srm.get("p_value")) else "")
        return Verdict(decision=INCONCLUSIVE, reason=(
            f"Do not decide: the split is broken (sample ratio mismatch{why}), so the comparison cannot be trusted; "
            "find the cause before reading any effect."), **common)
    alpha = _level(primary)
    p = primary_p if finite(primary_p) else primary.get("p_value")
    sign = _better(primary)
    moved = change(primary, unit, f"{primary_words} rose", f"{primary_words} fell", f"{primary_words} changed")
    direction = "lower is better" if sign < 0 else "higher is better"
    holm = f", Holm-adjusted across {arms_compared} arms" if arms_compared > 1 else ""
    judged = f" ({direction}; {p_value(p)}{holm}, against alpha = {alpha:g})" if finite(p) else f" ({direction})"
    gain = sign * primary["value"]
    significant = finite(p) and p < alpha
    tail = ""  # what a judgement by bounds assumed, after the reason

    def done(decision: str, reason: str) -> Verdict:
        return Verdict(decision=decision, reason=reason + tail, **common)

    bounded = (primary.get("extra") or {}).get("bounds")
    if bounded:  # the outcome is seen only for responders and the treatment moved who responds
        significant = primary["ci_low"] > 0 or primary["ci_high"] < 0
        judged = f" ({direction}; judged by its Lee bounds, see below)"
        tail = f" {first_upper(_bounds_words(bounded, unit))}."
        mde = None  # the respondents' minimum detectable effect says nothing about the bounds
    sequential = (primary.get("extra") or {}).get("sequential")
    if sequential:
        significant, judged = bool(sequential.get("significant")), f" ({direction}; {_look_words(sequential)})"
        if not significant and not sequential.get("final"):
            return done(INCONCLUSIVE, (
                f"{first_upper(moved)}{judged}: not significant at this look; keep collecting to the planned "
                f"{sequential['planned_units']:,} units (reading early is safe under this plan)."))
    if harmed:
        hurt = "; ".join(_guardrail_words(g, w, units) for g, w in harmed)
        return done(DONT_SHIP, (
            f"A guardrail was harmed (a loss beyond its margin, or a significant loss where it has none): {hurt}; "
            f"{moved}{judged}."))
    if significant and gain < 0:
        return done(DONT_SHIP, f"{first_upper(moved)}{judged}: the primary metric got worse.")
    if significant and gain > 0 and not unresolved:
        guard = (f"; no guardrail ({', '.join(w for _, w in checked)}) lost more than it allows" if checked
                 else "; the results hold no guardrail metric")
        loose = [w for g, w in checked if not finite((g.get("extra") or {}).get("margin"))]
        if loose:
            guard += f" (without a margin, {', '.join(loose)} would block only a significant loss)"
        return done(SHIP, f"{first_upper(moved)}{judged}: an improvement{guard}.")
    if significant and gain > 0:
        open_ = "; ".join(_guardrail_words(g, w, units) for g, w in unresolved)
        return done(INCONCLUSIVE, (
            f"{first_upper(moved)}{judged}, but a guardrail's loss beyond its margin cannot be ruled out: {open_}."))
    detect = ""
    if mde:
        needed = (mde.get("extra") or {}).get("units_needed") or {}
        plan = (f"; about {int(round(sum(needed.values()))):,} units in all would detect the planned lift of "
                f"{(mde.get('extra') or {}).get('relative_mde', 0):.0%}") if needed else ""
        detect = (f"; at this sample the experiment could reliably detect only effects of about {unit(abs(mde['value']))} "
                  f"or more (minimum detectable effect, 80% power){plan}")
    return done(INCONCLUSIVE, (
        f"{first_upper(moved)}{judged}: the data cannot tell a gain from a loss{detect}."))


def _bounds_words(bounded: Mapping, unit: Unit) -> str:
    """What the Lee bounds say, and what they assume."""
    shares = bounded.get("response_by_arm") or {}
    moved = (f" (control {shares['control']:.1%}, treatment {shares['treatment']:.1%})"
             if finite(shares.get("control")) and finite(shares.get("treatment")) else "")
    return (f"the outcome is seen only for those who answered, and the treatment changed who answers{moved}: for "
            f"those who would answer under either arm the effect lies between {unit(bounded['lower'], signed=True)} and "
            f"{unit(bounded['upper'], signed=True)} (Lee bounds; the interval covers the effect, assuming the treatment "
            "moved answering in one direction only)")


def _with_bounds(payload: Mapping) -> Mapping:
    """04: when the SLA moved the survey response rate, CSAT is judged by its Lee bounds, not by the
    difference of respondents (who are different people in the two arms)."""
    found = estimates_by_name(payload)
    csat, lee = found.get("csat_effect_treatment_vs_control"), found.get("csat_lee_bounds_treatment_vs_control")
    response = found.get("survey_response_effect_treatment_vs_control")
    if not (csat and usable(lee) and usable(response) and (response["ci_low"] > 0 or response["ci_high"] < 0)):
        return payload
    judged = {**csat, "value": lee["value"], "ci_low": lee["ci_low"], "ci_high": lee["ci_high"], "ci_level": lee["ci_level"],
              "p_value": None, "se": None, "extra": {**csat["extra"], "bounds": lee["extra"]}}
    return {**payload, "estimates": [judged if e is csat else e for e in payload.get("estimates") or []]}


def _look_words(sequential: Mapping) -> str:
    """Which look this is and what it was judged by, from a comparison's ``extra.sequential``."""
    progress = f"{sequential['units']:,} of {sequential['planned_units']:,} planned units"
    if sequential.get("method") == "always_valid":
        return (f"always-valid interval {sequential['ci_low']:.4g} to {sequential['ci_high']:.4g}, "
                f"{p_value(sequential['p_value'])} against alpha = {sequential['alpha']:.3g}, read at {progress}")
    spending = {"obrien_fleming": "O'Brien-Fleming-type", "pocock": "Pocock-type"}.get(sequential.get("spending"), "")
    return (f"look {sequential['look']} of {sequential['looks']} ({progress}): |z| = {abs(sequential['z']):.2f} against "
            f"the boundary {sequential['boundary']:.2f} ({spending} spending of alpha = {sequential['alpha']:.3g})")


def _roles(effects: Sequence[Mapping], listed: Sequence[str], defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """Role of each metric: from the estimates' ``extra.role``, else the map's order (first primary)."""
    roles = {}
    for e in effects:
        role = (e.get("extra") or {}).get("role")
        if role:
            roles.setdefault(e["extra"]["metric"], role)
    if roles:
        return roles
    if defaults:
        return dict(defaults)
    metrics = [str(m) for m in listed] or list(dict.fromkeys(e["extra"]["metric"] for e in effects))
    return {m: "primary" if i == 0 else "guardrail" for i, m in enumerate(metrics)}


def _per_arm(analysis: str, payload: Mapping, href: str | None, what: str, words: Mapping[str, str],
             units: Mapping[str, Unit] | None, defaults: Mapping[str, str] | None = None) -> list[Verdict]:
    """A verdict per treatment arm on the primary metric, the primary's p-values Holm-adjusted across arms."""
    found = estimates_by_name(payload)
    threshold = _srm_threshold(payload)
    srm = found.get("sample_ratio_chi2")
    effects = [e for e in _comparisons(found, "effect") if usable(e)]
    listed = ((payload.get("parameters") or {}).get("column_map") or {}).get("metrics") or []
    roles = _roles(effects, listed if isinstance(listed, list) else list(listed), defaults)
    primaries = [e for e in effects if roles.get(e["extra"]["metric"]) == "primary"]
    if not primaries:
        return []
    raw = [e.get("p_value") for e in primaries]
    adjusted = list(raw)
    sequential = any((e.get("extra") or {}).get("sequential") for e in primaries)  # split among arms already
    if len(primaries) > 1 and all(finite(p) for p in raw) and not sequential:
        adjusted = holm(raw)
    verdicts = []
    for effect, p in zip(primaries, adjusted):
        control, treatment = _arms(effect)
        metric = effect["extra"]["metric"]
        guardrails = [(e, words.get(e["extra"]["metric"], e["extra"]["metric"])) for e in effects
                      if roles.get(e["extra"]["metric"]) == "guardrail" and _arms(e) == (control, treatment)]
        verdicts.append(verdict(analysis, what.format(treatment=treatment, control=control), effect,
                                words.get(metric, f"the primary metric, {metric},"), guardrails, srm, threshold,
                                _find_mde(found, effect), _unit_of(effect, units), href, units, p, len(primaries)))
    return verdicts


def ab_test_verdicts(payload: Mapping, href: str | None) -> list[Verdict]:
    """04: the verdict on the SLA, CSAT its primary metric; buying again, spending and answering the survey guard."""
    return _per_arm(AB_TEST, _with_bounds(payload), href, "SLA experiment (faster first response), {treatment} vs {control}",
                    METRIC_WORDS, SLA_UNITS, SLA_DEFAULT_ROLES)


def experiment_verdicts(payload: Mapping, href: str | None) -> list[Verdict]:
    """05: a verdict per treatment arm on the primary metric (the column map's roles; list form: the first)."""
    return _per_arm(EXPERIMENT, payload, href, "experiment table, {treatment} vs {control}", {}, None)
