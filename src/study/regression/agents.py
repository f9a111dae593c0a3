"""What holding agents fixed changes: the adjusted model with and without agent fixed effects.

The default adjusted model (:func:`study.regression.models.satisfaction_drivers`) holds agents fixed
wherever the data has them. :func:`without_agents` fits the same model without them, on the same
rows, and says how far holding agents fixed moved each effect, with the standard error of that
move (both models' coefficients clustered together by customer,
:func:`study.regression.within.joint_influence`). In the default simulation agent skill raises both
resolution and CSAT, so the resolution effect without agents is biased upward (about +0.013).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.findings import Finding
from study.core.inference import wald_p_value
from study.core.results import Estimate, Skipped
from study.core.tables import numbers_as_text
from study.core.words import number, p_value, with_interval
from study.data.dataset import TicketData
from study.regression.fitting import SPEED, coefficient, fit_ols
from study.regression.models import csat_problem, csat_rows
from study.regression.within import cluster_codes, fit_within, joint_influence

SECTION = "without agents held fixed"
NO_AGENTS = "the data has no agent_id (or a single agent)"
_LABELS = {
    SPEED: ("csat_per_doubling_without_agents", "CSAT points per doubling of first response time, agents not held fixed"),
    "resolved": ("csat_resolved_without_agents", "CSAT points for a resolved case, agents not held fixed"),
    "reopened": ("csat_reopened_without_agents", "CSAT points for a reopened case, agents not held fixed"),
}


def _rows_with_agents(data: TicketData, section: str):
    """The answered surveys, what is held fixed, and why agents cannot be compared (or ``None``)."""
    if not data.has("agent_id") or data.tickets["agent_id"].nunique() < 2:
        return None, None, NO_AGENTS
    rows, _, held = csat_rows(data)
    reason = degenerate.first(
        csat_problem(rows, held.flags, held.controls),
        degenerate.too_few_clusters(rows, "agent_id", purpose=section),
        None if held.fixed_effects else held.fixed_effect_notes[0],
    )
    return rows, held, reason


def without_agents(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> list[Estimate] | Skipped:
    """The adjusted speed, resolution and reopen effects without agents held fixed, and how far holding them moved each.

    Same rows, flags and confounders as the default adjusted model; only the agent fixed effects
    are left out. Each estimate's ``extra`` holds ``agents_held_fixed`` (the default model's value),
    ``moved`` (with minus without agents), ``moved_se`` and ``moved_p_value`` (the move's clustered
    standard error and Wald p-value: a small p-value says agents confound the effect).

    Returns
    -------
    list of Estimate or Skipped
        Skipped, with the reason, without ``agent_id``, with a single agent, or when the answered
        surveys cannot support the model.
    """
    rows, held, reason = _rows_with_agents(data, "a comparison with and without agents held fixed")
    if reason:
        return Skipped(SECTION, reason + (": the adjusted model does not hold agents fixed" if reason == NO_AGENTS else ""))
    numeric = [SPEED, *held.flags]
    with_agents, absorbed = fit_within(rows, "csat", numeric, held.controls, ["agent_id"], cluster=cluster)
    without = fit_ols(rows, "csat", numeric, held.controls, cluster=cluster)
    codes, n_clusters = cluster_codes([rows], cluster)
    influence = joint_influence([with_agents, without], codes * 2, n_clusters)
    k = len(with_agents.params)
    method = (f"OLS csat ~ log2 response hours + {' + '.join(held.flags + held.controls)}, without agent fixed effects; "
              f"SE clustered by {cluster}; observational; moved: the same model with agents held fixed "
              f"({rows['agent_id'].nunique():,} agents) minus this one, SE from both clustered together")
    out = []
    for term in (t for t in numeric if t not in absorbed):
        name, label = _LABELS[term]
        gradient = np.zeros(influence.shape[1])
        gradient[list(with_agents.params.index).index(term)] = 1.0
        gradient[k + list(without.params.index).index(term)] = -1.0
        moved = float(with_agents.params[term] - without.params[term])
        moved_se = float(np.sqrt(np.sum((influence @ gradient) ** 2)))
        estimate = coefficient(without, term, name, label, method, alpha)
        extra = {"agents_held_fixed": float(with_agents.params[term]), "moved": moved, "moved_se": moved_se,
                 "moved_p_value": wald_p_value(moved, moved_se)}
        out.append(replace(estimate, extra=extra))
    return out


def comparison_table(estimates: list[Estimate] | Skipped) -> pd.DataFrame | Skipped:
    """:func:`without_agents` as a table: each effect without and with agents held fixed, and the move."""
    if isinstance(estimates, Skipped):
        return estimates
    table = pd.DataFrame({
        "effect": [e.label.split(", agents not held fixed")[0] for e in estimates],
        "agents not held fixed": [e.value for e in estimates],
        "agents held fixed": [e.extra["agents_held_fixed"] for e in estimates],
        "moved": [e.extra["moved"] for e in estimates],
        "SE of the move": [e.extra["moved_se"] for e in estimates],
        "p-value of the move": [e.extra["moved_p_value"] for e in estimates],
    }).set_index("effect")
    return numbers_as_text(table, "p-value of the move")


def findings(drivers, comparison: list[Estimate] | Skipped) -> list[Finding]:
    """Sentences on what the adjusted model holds fixed, direct versus total speed, and what agents changed.

    Parameters
    ----------
    drivers : study.regression.models.SatisfactionDrivers or Skipped
    comparison : list of Estimate or Skipped
        :func:`without_agents`.

    Returns
    -------
    list of Finding
        Empty when the adjusted model was skipped.
    """
    if isinstance(drivers, Skipped):
        return []
    direct, total = drivers.get("csat_per_doubling_adjusted"), drivers.get("csat_per_doubling_total_adjusted")
    out = [Finding("**What the adjusted model holds fixed.** " + "; ".join(drivers.notes) + ".", (direct.name,), kind="check")]
    if total.extra.get("through"):
        out.append(Finding(
            f"**Direct and total.** With resolution held fixed, a doubling of the wait goes with {with_interval(direct)} "
            f"CSAT points (direct); with it not held fixed, {with_interval(total)} (total: the direct part plus "
            f"{number(sum(total.extra['through'].values()), 3, signed=True)} through resolution and reopening, whose "
            "relation to speed is measured on all tickets, answered or not). Both are observational.",
            (direct.name, total.name)))
    if isinstance(comparison, Skipped):
        return out
    moves = [f"{e.label.split(',')[0].replace('CSAT points ', '')} from {number(e.value, 3, signed=True)} to "
             f"{number(e.extra['agents_held_fixed'], 3, signed=True)} ({p_value(e.extra['moved_p_value'])})" for e in comparison]
    out.append(Finding(
        "**Agents held fixed.** Comparing tickets handled by the same agent moved the estimates: " + "; ".join(moves) + ". "
        "A move larger than chance says agents confound the comparison without them (skilled agents resolve more "
        "and satisfy more).", tuple(e.name for e in comparison), kind="check"))
    return out
