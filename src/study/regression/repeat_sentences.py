"""Sentences of the mediation through CSAT and of the time to the next purchase, as findings.

Written from the results of :func:`study.regression.mediation.speed_through_satisfaction` and
:func:`study.regression.survival.time_to_next_purchase`, so that each number and its sentence exist
once. Observational wording throughout ("goes with"); the split through CSAT is called causal
only under its stated assumptions.
"""

from __future__ import annotations

from study.core.findings import Finding, skipped
from study.core.results import Estimate
from study.core.words import number, p_value, pct, points
from study.regression.fitting import SPEED, term_label
from study.regression.mediation import NAMES as MEDIATION
from study.regression.mediation import SpeedMediation
from study.regression.rmst import FAST_HOURS, SLOW_HOURS
from study.regression.rmst import NAMES as RMST
from study.regression.survival import DRIFT_NAMES, TimeToNextPurchase
from study.stats import schoenfeld

TERM_WORDS = {SPEED: "speed", "resolved": "resolution", "reopened": "reopening"}


def _pp(estimate: Estimate) -> str:
    """'-1.37 pp (95% CI -2.03 to -0.67 pp)': two decimals, as the split's parts are small."""
    return (f"{points(estimate.value, 2)} ({estimate.ci_level:.0%} CI {points(estimate.ci_low, 2)[:-3]} to "
            f"{points(estimate.ci_high, 2)})")


def _days(estimate: Estimate, signed: bool = True) -> str:
    level = f"{estimate.ci_level:.0%} CI"
    return (f"{number(estimate.value, 1, signed=signed)} days ({level} {number(estimate.ci_low, 1, signed=signed)} to "
            f"{number(estimate.ci_high, 1, signed=signed)})")


def mediation_findings(result: SpeedMediation, alpha: float = 0.05) -> list[Finding]:
    """The split of the speed effect among respondents, its sensitivity and its assumptions, in words.

    The total, the path through CSAT, the direct part and the share are all quoted from the same
    rows and models (the linear probability model among survey respondents), and the share is a
    share of that total; when the share is not estimable the sentence says why instead.

    Parameters
    ----------
    result : SpeedMediation
    alpha : float
        Level at which the speed x CSAT interaction counts as found (a warning).

    Returns
    -------
    list of Finding
        The split (headline) and its assumptions; a skipped finding when the mediation did not run.
    """
    if result.skipped:
        return [skipped("mediation through satisfaction", result.skipped, headline=True)]
    total, indirect = result.total, result.get(MEDIATION["indirect"])
    direct, rho = result.get(MEDIATION["direct"]), result.get(MEDIATION["rho"])
    share = result.share
    if share is not None:
        split = (f"{_pp(indirect)} is the path through CSAT, {pct(share.value, 0)} of that total ({share.ci_level:.0%} CI "
                 f"{pct(share.ci_low, 0)} to {pct(share.ci_high, 0)}), and {_pp(direct)} the direct part")
    else:
        split = (f"{_pp(indirect)} is the path through CSAT and {_pp(direct)} the direct part; no share is given: "
                 f"{result.share_not_estimable}")
    sensitivity = result.sensitivity
    lines = [Finding(
        f"**Through satisfaction.** Among survey respondents ({total.n:,} tickets), each doubling of the first response "
        f"time goes with {_pp(total)} in repeat purchase (linear probability model, same controls; a different total from "
        f"the all-ticket logit). Of it, {split}. This split is causal only under the assumptions below. It would vanish if "
        f"a hidden factor correlated the errors of the CSAT and repeat-purchase models at rho = {number(rho.value, 2)} "
        f"({rho.ci_level:.0%} CI {number(rho.ci_low, 2)} to {number(rho.ci_high, 2)}; Imai, Keele & Yamamoto): a factor "
        f"explaining {pct(abs(rho.value), 0)} of the unexplained variance of each (in general, two shares whose product "
        f"is {pct(sensitivity.residual_variance_product, 1)}).",
        tuple(e.name for e in (total, indirect, direct, share, rho) if e is not None), headline=True,
        section="How much runs through satisfaction?")]
    interaction = result.interaction
    found = interaction is not None and interaction.p_value is not None and interaction.p_value < alpha
    lines.append(Finding(
        "**What the split assumes.** " + "; ".join(f"({i}) {text}" for i, text in enumerate(result.assumptions, 1)) + "."
        + (" The data reject the second: the path through CSAT differs with the speed of the reply, and a single "
           "indirect effect averages over it." if found else ""),
        (interaction.name,) if interaction is not None else (), kind="warning" if found else "finding"))
    return lines


def _periods_words(result: TimeToNextPurchase) -> str:
    if result.periods.empty or result.periods["hazard ratio"].isna().all():
        return ""
    parts = [f"{row['hazard ratio']:.3f} in {period}" for period, row in result.periods.iterrows()
             if row["hazard ratio"] == row["hazard ratio"]]
    return f" (per doubling: {', '.join(parts)})"


def _rmst_words(result: TimeToNextPurchase) -> tuple[str, tuple[str, ...]]:
    """The RMST differences in a sentence, and their names; or why they are missing."""
    if not result.rmst:
        return (f"The restricted mean survival time was not estimated: {result.rmst_skipped}." if result.rmst_skipped else ""), ()
    by_name = {e.name: e for e in result.rmst}
    raw, per_doubling, adjusted = by_name[RMST["contrast"]], by_name[RMST["per_doubling"]], by_name[RMST["contrast_adjusted"]]
    fewer = "fewer" if raw.value < 0 else "more"
    sentence = (
        f"Over the {result.window:g}-day window, tickets first answered within {FAST_HOURS:g} hour were followed by "
        f"{number(abs(raw.value), 1)} {fewer} days without a purchase than those answered after more than {SLOW_HOURS:g} "
        f"hours ({number(raw.extra['rmst_fast_days'], 1)} against {number(raw.extra['rmst_slow_days'], 1)}; difference "
        f"{_days(raw)}; restricted mean survival time, nothing held fixed). With the Cox model's controls held fixed the "
        f"difference is {_days(adjusted)}, and each doubling of the wait goes with {_days(per_doubling)} before the next "
        f"purchase ({p_value(per_doubling.p_value)}; regression on pseudo-observations, no proportional hazards needed). "
        "Observational.")
    return sentence, (raw.name, adjusted.name, per_doubling.name)


def survival_findings(result: TimeToNextPurchase) -> list[Finding]:
    """The proportional-hazards check and the days before the next purchase, in words.

    When the check fails for speed (:func:`study.stats.schoenfeld.verdict`) the finding is a
    warning that the hazard ratio is an average of a ratio that changes, with the per-period
    ratios and the RMST differences, which need no proportional hazards; otherwise a check.

    Parameters
    ----------
    result : TimeToNextPurchase

    Returns
    -------
    list of Finding
        Empty when the Cox model was skipped (the caller reports that).
    """
    if result.skipped:
        return []
    drifts = {e.name: e for e in result.drifts}
    judged = {term: drifts[DRIFT_NAMES[term]] for term in [SPEED, *result.flags] if DRIFT_NAMES[term] in drifts}
    failed = [term for term, e in judged.items() if e.extra["verdict"] == schoenfeld.FAILS]
    rmst_sentence, rmst_names = _rmst_words(result)
    speed = judged[SPEED]
    ratio = result.get("repurchase_hazard_ratio_per_doubling")
    rule = (f"it fails when p < {1 - ratio.ci_level:g} and the log ratio drifts by at least a quarter of its average value "
            f"and at least {number(schoenfeld.DRIFT_FLOOR, 2)}")
    others = [TERM_WORDS[t] for t in failed if t != SPEED]
    also = f" It fails for {' and '.join(others)} too." if others else ""
    if SPEED in failed:
        text = (
            f"**The hazard ratio is an average.** The proportional-hazards check fails for speed (Grambsch-Therneau test "
            f"on Schoenfeld residuals, {p_value(speed.p_value)}; {rule}): the log hazard ratio per doubling moves by "
            f"{number(speed.value, 3, signed=True)} from the first to the last purchase of the window"
            f"{_periods_words(result)}, so {ratio.value:.3f} averages a ratio that changes.{also} {rmst_sentence}")
        names = (ratio.name, speed.name, *[e.name for e in result.period_ratios], *rmst_names)
        return [Finding(text.strip(), names, kind="warning")]
    state = "holds for speed" if speed.extra["verdict"] == schoenfeld.HOLDS else "finds a drift for speed too small to matter"
    text = (f"**Proportional hazards.** The check {state} (Grambsch-Therneau test, {p_value(speed.p_value)}; drift of the log "
            f"ratio {number(speed.value, 3, signed=True)} over the window; {rule}).{also}")
    lines = [Finding(text, (speed.name,), kind="warning" if others else "check")]
    if rmst_sentence:
        lines.append(Finding(f"**Days to the next purchase.** {rmst_sentence}", rmst_names))
    return lines


def proportional_hazards_table(result: TimeToNextPurchase):
    """The check of the headline terms as a reader wants it: drift, p-value and verdict."""
    check = result.proportional_hazards
    labels = [term_label(t) for t in [SPEED, *result.flags]]
    return check.loc[[label for label in labels if label in check.index], ["log hazard ratio", "drift", "drift SE", "p-value", "verdict"]]
