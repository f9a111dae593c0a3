"""The randomized estimate of speed in words: what it assumes, what randomization buys, and how it compares.

"Randomized" is said only of what randomization buys: the SLA arms are alike in everything fixed
before assignment. Reading the ratio as the effect of *speed* takes the further assumptions listed by
:func:`assumptions`, each stated in words beside the estimate.
"""

from __future__ import annotations

from study.core.findings import Finding
from study.core.results import Estimate, Skipped
from study.core.words import covers_words, number, with_interval
from study.regression.causal import WEAK_F, RandomizedSpeed
from study.regression.iv_checks import SideEffects


def assumptions(randomized: RandomizedSpeed | None = None, side: SideEffects | Skipped | None = None) -> list[str]:
    """What the randomized estimate of speed assumes, one plain sentence per assumption.

    Parameters
    ----------
    randomized : RandomizedSpeed, optional
        When given, the relevance line quotes its first-stage F and Anderson–Rubin set.
    side : SideEffects, optional
        When given, the exclusion line quotes the check of the other channels.

    Returns
    -------
    list of str
        Randomization, relevance, monotonicity, exclusion, respondents only, what is held fixed, the
        comparison target and the scale, in that order.
    """
    relevance = ("Relevance: the SLA changed the first response time. A weak first stage (cluster-robust F below "
                 f"{WEAK_F:g}) makes the usual interval unreliable; the Anderson–Rubin set stays valid however weak it is.")
    if randomized is not None:
        relevance += (f" Here F = {randomized.first_stage_f:,.1f} and the Anderson–Rubin "
                      f"{randomized.anderson_rubin.level:.0%} set is {randomized.anderson_rubin.words()}.")
    exclusion = ("Exclusion: the SLA changed CSAT only through speed, not through rushed or shorter replies, other "
                 "agents, or a change in resolution. Only part of this can be checked: the SLA's effect on the other "
                 "recorded channels (resolution, reopening, QA score, contacts, work after the first reply).")
    if isinstance(side, SideEffects):
        exclusion += f" Here {side.verdict()}."
    controls = randomized.controls if randomized is not None else ["category", "channel", "loyalty_tier"]
    held = ", ".join(c.replace("_", " ") for c in controls) or "nothing: no pre-assignment variable varies here"
    return [
        ("Randomization (independence): customers were assigned to the SLA at random, so the arms are alike in "
         "everything fixed before assignment; customers seen in both arms are set aside. This is all that "
         "randomization buys."),
        relevance,
        ("Monotonicity: no ticket was answered more slowly because its customer was in the SLA arm. The estimate is "
         "then an average of per-ticket effects, weighted towards the tickets the SLA sped up most."),
        exclusion,
        ("Respondents only: the estimate uses answered surveys. Who answers depends on the experience (slower and "
         "unresolved cases answer at other rates), so if the SLA changed who answers, the arms' respondents differ in "
         "more than speed; the estimate describes respondents, not every customer."),
        (f"Held fixed: only what was fixed before assignment ({held}). Resolution and reopening "
         "are not held fixed, because the SLA may move them, and comparing tickets alike in a consequence of the "
         "assignment would undo the randomization."),
        ("Comparison target: the estimate is the total effect of speed, any effect through resolution included. Its "
         "observational match is the adjusted total (resolution not held fixed), not the adjusted direct effect that "
         "holds resolution fixed."),
        ("Scale: 'per doubling' assumes CSAT changes linearly in log2 response time over the range the SLA moved it "
         "(about one doubling)."),
    ]


def randomized_findings(randomized: RandomizedSpeed | Skipped | None, total: Estimate | None = None,
                        direct: Estimate | None = None, side: SideEffects | Skipped | None = None,
                        truth: float | None = None) -> list[Finding]:
    """The randomized estimate of speed in sentences: the estimate, its comparison, its strength and its checks.

    Parameters
    ----------
    randomized : RandomizedSpeed, Skipped or None
        From :func:`study.regression.causal.randomized_speed`; ``None`` or Skipped gives no sentence
        (the study's notes say why).
    total : Estimate, optional
        The adjusted total effect (``csat_per_doubling_total_adjusted``), the estimate's observational match.
    direct : Estimate, optional
        The adjusted direct effect (resolution held fixed), named as a different question when the
        total is absent.
    side : SideEffects, optional
        The SLA's effect on the other channels (:func:`study.regression.iv_checks.sla_side_effects`).
    truth : float, optional
        The simulation's true per-doubling effect of speed.

    Returns
    -------
    list of Finding
    """
    if not isinstance(randomized, RandomizedSpeed):
        return []
    estimate, first, ar = randomized.estimate, randomized.first_stage, randomized.anderson_rubin
    if randomized.weak or not ar.bounded:
        said = (f"implies {number(estimate.value, signed=True)} CSAT points per doubling of the wait, but the SLA "
                f"moved response times too little to pin the effect down (first-stage F = {randomized.first_stage_f:,.1f}): "
                f"the Anderson–Rubin {ar.level:.0%} set, valid however weak the instrument, is {ar.words()}")
    else:
        said = (f"implies {with_interval(estimate)} CSAT points per doubling of the wait (its effect on CSAT over its "
                "effect on log2 response hours, with only pre-assignment variables held fixed)")
    lines = [Finding(
        f"**Total effect of speed, from the SLA experiment.** Among answered surveys, the SLA's random speed-up "
        f"{said}. Randomization makes the arms alike in everything fixed before assignment; reading this as the "
        "effect of speed also assumes that the SLA changed CSAT only through speed, and it describes respondents.",
        (estimate.name, first.name), headline=True, section="Naive, adjusted and randomized")]
    if total is not None:
        verdict = ("includes it" if estimate.covers(total.value) else
                   "excludes it: chance (the adjusted estimate has its own uncertainty), a confounder the adjusted model "
                   "misses, or a broken assumption of the experiment (see the checks below) would explain the gap")
        lines.append(Finding(
            f"**Randomized versus observational, same question.** The adjusted total association (resolution not held "
            f"fixed) is {with_interval(total)} per doubling; the randomized interval {verdict}.",
            (total.name, estimate.name)))
    elif direct is not None:
        lines.append(Finding(
            f"**No observational match here.** The adjusted estimate ({number(direct.value, signed=True)}) holds "
            "resolution fixed, so it answers another question than the randomized total; the two agree only where "
            "speed does not change resolution.", (estimate.name, direct.name)))
    strength = (f"**Strength of the experiment.** The SLA changed log2 response hours by {with_interval(first)} among "
                f"these respondents (first stage; cluster-robust F = {randomized.first_stage_f:,.1f}).")
    if randomized.weak:
        lines.append(Finding(
            f"{strength} That is below {WEAK_F:g}: the instrument is weak and the interval above is not to be "
            f"trusted. The Anderson–Rubin {ar.level:.0%} set, valid however weak the instrument, is {ar.words()}.",
            (first.name, estimate.name), kind="warning"))
    elif not ar.bounded:
        lines.append(Finding(
            f"{strength} The Anderson–Rubin {ar.level:.0%} set is {ar.words()}: the experiment does not bound the effect.",
            (first.name, estimate.name), kind="warning"))
    else:
        lines.append(Finding(
            f"{strength} Not weak: the Anderson–Rubin {ar.level:.0%} set, valid however weak the instrument, is "
            f"{ar.words()}, beside the interval above.", (first.name, estimate.name), kind="check"))
    if isinstance(side, SideEffects):
        lines += side.findings()
    if truth is not None:
        lines.append(Finding(
            f"**Check against the simulation's truth** ({number(truth, 3, signed=True)} per doubling): the randomized "
            f"interval {covers_words(estimate, truth)} it.", kind="truth"))
    return lines
