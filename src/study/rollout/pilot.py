"""Pilot against rollout: did the randomized pilot's effect hold once the change went live for every team?

The pilot is the faster-response SLA experiment (:func:`study.ab.sla.sla_experiment`): customers were
randomized, so its difference between the arms is a causal effect for the pilot's customers. The rollout's
estimate is the DiD average effect on the adopting teams' tickets. The two are compared as independent
estimates: difference rollout - pilot, its standard error the root of the sum of their variances, and a
normal reference (the pilot has thousands of customers; the rollout's t(G - 1) is folded in by using its
standard error at face value, a simplification stated in the findings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.ab import abtest, aggregate
from study.ab.sla import SlaExperiment, sla_experiment
from study.ab.sufficient import Metric
from study.core.inference import wald_interval, wald_p_value
from study.core.results import Estimate, Skipped
from study.data.dataset import TicketData
from study.data.features import response_log2_hours
from study.rollout.panel import OUTCOMES

# The outcomes both the pilot and the rollout measure, in the same unit.
SHARED = ("log2_response_hours", "csat")


@dataclass
class PilotComparison:
    """The pilot's effect next to the rollout's on each shared outcome, and their difference."""

    pilot: dict[str, Estimate]
    differences: dict[str, Estimate]
    rollout: dict[str, Estimate]
    experiment: SlaExperiment

    def table(self) -> pd.DataFrame:
        """One row per outcome: pilot, rollout, difference (rollout - pilot), its interval and p-value."""
        rows = []
        for outcome, diff in self.differences.items():
            pilot, rollout = self.pilot[outcome], self.rollout[outcome]
            rows.append({"outcome": OUTCOMES[outcome][0], "pilot (randomized)": pilot.value,
                         "pilot CI": f"{pilot.ci_low:.3f} to {pilot.ci_high:.3f}", "rollout (DiD)": rollout.value,
                         "rollout CI": f"{rollout.ci_low:.3f} to {rollout.ci_high:.3f}", "difference": diff.value,
                         "CI low": diff.ci_low, "CI high": diff.ci_high, "p-value": diff.p_value})
        return pd.DataFrame(rows).set_index("outcome")


def pilot_effects(data: TicketData, alpha: float = 0.05) -> tuple[dict[str, Estimate], SlaExperiment]:
    """The SLA experiment's effect (treatment - control) on first response time (log2 hours) and CSAT, per ticket.

    CSAT is the experiment's own ratio metric (per answered survey, delta method over customers); response
    time is the same kind of ratio metric (log2 hours per ticket with a first response, the scale of the
    rollout's comparison), compared by the same engine (:func:`study.ab.abtest.compare_metrics`).
    """
    experiment = sla_experiment(data, alpha=alpha)
    customers = experiment.customers.copy()
    rows = experiment.experiment.rows
    hours = response_log2_hours(pd.to_numeric(rows["first_response_minutes"], errors="coerce").astype(float))
    sums = pd.DataFrame({"customer_id": rows["customer_id"], "variant": rows["variant"], "hours": hours,
                         "timed": hours.notna().astype(float)}).groupby(["customer_id", "variant"], sort=True)[
        ["hours", "timed"]].sum(min_count=1)
    customers = customers.join(sums, on=["customer_id", "variant"])
    metric = Metric("log2_response_hours", "hours", "ratio", denominator="timed",
                    label="First response (log2 hours), per ticket")
    effects = abtest.compare_metrics(aggregate.aggregate_frame(customers, [metric]), alpha=alpha)
    out = {}
    for effect in [*effects, *experiment.effects]:
        if effect.segment or effect.metric not in SHARED or effect.metric in out:
            continue
        out[effect.metric] = Estimate(
            f"rollout_pilot_{effect.metric}", f"{OUTCOMES[effect.metric][0]}: pilot effect (randomized SLA experiment, "
            "treatment - control)", float(effect.estimate), float(effect.se), float(effect.ci_low),
            float(effect.ci_high), effect.p_value, int(effect.n_control + effect.n_treatment), effect.method, 1 - alpha,
            {"control": float(effect.control_value), "treatment": float(effect.treatment_value), "units": "customers"})
    return out, experiment


def compare(rollout: dict[str, Estimate], data: TicketData | None, alpha: float = 0.05) -> PilotComparison | Skipped:
    """Each shared outcome's pilot effect, rollout effect and the test of their difference."""
    if data is None:
        return Skipped("pilot against rollout", "no pilot data was given (pilot_path is None)")
    if not {"variant", "customer_id"} <= set(data.tickets.columns):
        return Skipped("pilot against rollout", "the pilot data has no variant and customer_id: it is not an experiment")
    pilot, experiment = pilot_effects(data, alpha)
    shared = [o for o in SHARED if o in pilot and o in rollout]
    if not shared:
        return Skipped("pilot against rollout", "no outcome has both a pilot effect and a rollout effect")
    differences = {}
    for outcome in shared:
        p, r = pilot[outcome], rollout[outcome]
        value, se = r.value - p.value, float(np.hypot(r.se, p.se))
        low, high = wald_interval(value, se, alpha)
        differences[outcome] = Estimate(
            f"rollout_pilot_difference_{outcome}", f"{OUTCOMES[outcome][0]}: rollout effect minus pilot effect",
            value, se, low, high, wald_p_value(value, se), r.n + p.n,
            "difference of independent estimates, se = sqrt(se_rollout^2 + se_pilot^2), normal reference", 1 - alpha)
    return PilotComparison({o: pilot[o] for o in shared}, differences, {o: rollout[o] for o in shared}, experiment)


def verdict(pilot: Estimate, rollout: Estimate, difference: Estimate, alpha: float) -> str:
    """``held``, ``shrank``, ``grew`` or ``reversed``: the rollout's effect against the pilot's, in a word."""
    if difference.p_value is not None and difference.p_value >= alpha:
        return "held"
    if np.sign(rollout.value) != np.sign(pilot.value) and rollout.ci_high < 0 < pilot.ci_low or \
            rollout.ci_low > 0 > pilot.ci_high:
        return "reversed"
    return "shrank" if abs(rollout.value) < abs(pilot.value) else "grew"
