"""The experiment as a measuring stick: the total effect of speed from the SLA experiment, next to the observational ones.

The SLA experiment assigned customers at random to faster replies. Its effect on CSAT divided by its
effect on log2 response time is a CSAT change per doubling of the wait (instrumental variables, with
the assignment as the instrument). Randomization buys one thing: the assignment is independent of
everything fixed before it, so the two arms' tickets are alike but for the SLA. Reading the ratio as
the effect of *speed* needs more, stated in :func:`study.regression.iv_checks.assumptions`: the SLA
changed CSAT only through speed (exclusion), it changed speed (relevance: first-stage F and an
Anderson–Rubin set), and the rows are answered surveys, so who answers must not differ between the
arms in anything but speed.

Only pre-treatment variables (category, channel, loyalty tier) are held fixed. Resolution and
reopening are not: the SLA may move them, and holding a consequence of the assignment fixed would
compare unlike tickets. The estimate is therefore the *total* effect of speed, to be set beside the
adjusted total (resolution not held fixed), not beside the adjusted direct effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate, Skipped
from study.core.tables import numbers_as_text
from study.data.dataset import TicketData
from study.data.experiment import experiment_rows
from study.regression.adjustment import Adjustment, on_rows
from study.regression.fitting import SPEED, formula, model_frame
from study.regression.models import csat_problem, csat_sample
from study.stats.design import design_matrix
from study.stats.iv import ConfidenceSet, anderson_rubin_set, iv_estimate, reduced_forms

WEAK_F = 10.0  # Staiger-Stock rule of thumb: below it the Wald interval of IV is not to be trusted
TOTAL_ADJUSTED = "csat_per_doubling_total_adjusted"


@dataclass
class RandomizedSpeed:
    """The SLA experiment read as an instrument for speed, with its weak-instrument diagnostics.

    Attributes
    ----------
    estimate : Estimate
        ``csat_per_doubling_randomized``: CSAT points per doubling of the wait, total effect of speed
        among survey respondents (Wald interval; ``extra`` holds the first-stage F and the
        Anderson–Rubin set).
    first_stage : Estimate
        ``first_stage_sla_on_log2_response_hours``: the SLA's effect on log2 response hours on the same
        rows, with the same controls; ``extra["f"]`` is its cluster-robust F.
    anderson_rubin : study.stats.iv.ConfidenceSet
        The weak-instrument-robust confidence set of the per-doubling effect.
    controls : list of str
        Pre-treatment variables held fixed.
    """

    estimate: Estimate
    first_stage: Estimate
    anderson_rubin: ConfidenceSet
    controls: list[str] = field(default_factory=list)

    @property
    def first_stage_f(self) -> float:
        return float(self.first_stage.extra["f"])

    @property
    def weak(self) -> bool:
        """Whether the first-stage F is below :data:`WEAK_F` (then read the Anderson–Rubin set)."""
        return self.first_stage_f < WEAK_F

    @property
    def estimates(self) -> list[Estimate]:
        return [self.estimate, self.first_stage]


def randomized_speed(data: TicketData, alpha: float = 0.05) -> RandomizedSpeed | Skipped | None:
    """CSAT change per doubling of the wait from the SLA's random assignment, with its diagnostics.

    Rows: answered surveys of customers with a single known arm (the rows of the other satisfaction
    models, less customers seen in both arms). Held fixed: the pre-treatment confounders only.

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level of the Wald interval and the Anderson–Rubin set.

    Returns
    -------
    RandomizedSpeed, Skipped or None
        ``None`` when the data has no experiment (no ``variant``); Skipped, with the reason, when the
        answered surveys cannot support the estimate (:func:`study.regression.models.csat_problem`,
        at least two customers in each arm, a first stage that is not exactly zero).
    """
    if not data.has("variant"):
        return None
    rows, _, _, controls = csat_sample(data, extra=["variant"])
    rows = experiment_rows(rows).rows
    controls = on_rows(Adjustment([], controls), rows).controls  # what still varies once mixed customers are set aside
    customers = rows.drop_duplicates("customer_id")["variant"].value_counts()
    reason = degenerate.first(
        csat_problem(rows, [], controls, numeric=["variant"]),
        degenerate.arms({arm: int(customers.get(arm, 0)) for arm in ("control", "treatment")}, units="customers with an answer"),
    )
    if reason:
        return Skipped("randomized estimate", reason)
    frame = model_frame(rows, ["csat", SPEED, *controls], "customer_id")
    exogenous = design_matrix(frame, formula("csat", [], controls).split("~", 1)[1]).to_numpy()
    treated = (rows["variant"] == "treatment").to_numpy(dtype=float)
    y, x, clusters = frame["csat"].to_numpy(), frame[SPEED].to_numpy(), frame["_cluster"].to_numpy().astype(np.int64)
    forms = reduced_forms(y, x, treated, exogenous, clusters)
    if forms.gamma_x == 0 or forms.v_xx <= 0:
        return Skipped("randomized estimate", "the SLA arms have the same first response times on these rows: no first stage")
    value, se, first_stage_f = iv_estimate(y, x, treated, exogenous, clusters, forms)
    crit = critical_value(alpha)
    level = 1 - alpha
    ar = anderson_rubin_set(forms, crit, level)
    held = ", ".join(c.replace("_", " ") for c in controls) or "nothing"
    model = "csat ~ log2 response hours (instrumented by variant)" + "".join(f" + {c}" for c in controls)
    estimate = Estimate(
        "csat_per_doubling_randomized",
        "CSAT points per doubling of first response time, total effect of speed (SLA experiment), among survey respondents",
        value, se, float(value - crit * se), float(value + crit * se), wald_p_value(value, se), len(rows),
        "instrumental variables: SLA assignment as instrument for log2 response hours; pre-treatment controls "
        f"only ({held}); SE clustered by customer_id; first-stage F = {first_stage_f:.1f}; "
        f"Anderson-Rubin {level:.0%} set {ar.words(3)}; assumes the SLA changed CSAT only through speed",
        level, {"first_stage_f": first_stage_f, "anderson_rubin": ar.to_dict(), "controls": list(controls),
                "estimand": "total effect of speed on CSAT among survey respondents (resolution not held fixed)"},
        model=model, interval=WALD,
    )
    first_se = float(np.sqrt(forms.v_xx))
    first_stage = Estimate(
        "first_stage_sla_on_log2_response_hours",
        "Change in log2 first response hours from the SLA (first stage), among survey respondents",
        forms.gamma_x, first_se, forms.gamma_x - crit * first_se, forms.gamma_x + crit * first_se,
        wald_p_value(forms.gamma_x, first_se), len(rows),
        f"OLS log2 response hours ~ variant + pre-treatment controls ({held}); SE clustered by customer_id; "
        "F is the squared cluster-robust t of the assignment",
        level, {"f": first_stage_f, "weak_below": WEAK_F, "clusters": forms.clusters}, model=model, interval=WALD,
    )
    return RandomizedSpeed(estimate, first_stage, ar, list(controls))


def randomized_speed_effect(data: TicketData, alpha: float = 0.05) -> Estimate | Skipped | None:
    """The estimate of :func:`randomized_speed` alone (``csat_per_doubling_randomized``), or its Skipped or None."""
    result = randomized_speed(data, alpha)
    return result.estimate if isinstance(result, RandomizedSpeed) else result


def speed_effects(drivers, randomized: Estimate | None, truth: float | dict | None = None) -> pd.DataFrame | Skipped:
    """:func:`speed_effect_table` of a :class:`study.regression.models.SatisfactionDrivers`, or the Skipped it is.

    The adjusted total (``csat_per_doubling_total_adjusted``) is shown when the drivers have it.
    """
    if isinstance(drivers, Skipped):
        return drivers
    by_name = {e.name: e for e in drivers.estimates}
    return speed_effect_table(drivers.naive, by_name["csat_per_doubling_adjusted"], randomized, truth,
                              held_fixed=[*drivers.controls, *drivers.fixed_effects], total=by_name.get(TOTAL_ADJUSTED))


def speed_effect_table(
    naive: Estimate, adjusted: Estimate, randomized: Estimate | None, truth: float | dict | None = None,
    held_fixed: list[str] = (), total: Estimate | None = None,
) -> pd.DataFrame:
    """Naive, adjusted (direct and total) and randomized speed effects side by side, each with the question it answers.

    The randomized estimate is a total effect: the row to compare it with is the adjusted total
    (resolution not held fixed), not the adjusted direct one.

    Parameters
    ----------
    naive, adjusted : Estimate
        The naive slope and the adjusted slope with resolution held fixed (direct).
    randomized : Estimate or None
        The SLA experiment's total effect (:func:`randomized_speed`).
    truth : float or dict, optional
        The true per-doubling effect, or the true value of each estimate by name (the randomized
        estimate's differs: it describes respondents), for a "covers the truth" column.
    held_fixed : list of str
        What the adjusted models hold fixed besides resolution (their controls).
    total : Estimate, optional
        The adjusted total effect (resolution not held fixed); without it the table says the
        randomized row has no observational counterpart here.
    """
    controls = ", ".join({"agent_id": "agent"}.get(c, c.replace("_", " ")) for c in held_fixed) or "nothing else"
    interval = f"{naive.ci_level:.0%} CI"
    rows = [
        (naive, "naive",
         ("How CSAT differs between slower and faster tickets, nothing held fixed; slow tickets are also the hard "
          "ones, so it mixes the wait with the issue.")),
        (adjusted, "adjusted, direct (resolution held fixed)",
         (f"How CSAT differs with speed among tickets alike in resolution and {controls}: the part of speed's "
          "association not running through resolution; assumes no confounder is left out.")),
    ]
    if total is not None:
        rows.append((total, "adjusted, total (resolution not held fixed)",
                     (f"How CSAT differs with speed among tickets alike in {controls}, whatever their resolution: the "
                      "whole association; assumes no confounder is left out. The observational match of the randomized row.")))
    if randomized is not None:
        compare = ("compare it with the adjusted total" if total is not None
                   else "its observational match is the adjusted total, not estimated here; the direct row answers another question")
        rows.append((randomized, "randomized, total (SLA experiment)",
                     ("The CSAT change per doubling brought by the SLA's random speed-up, among respondents. Randomization "
                      "rules out confounding of the assignment; the estimate assumes the SLA changed CSAT only through "
                      f"speed; {compare}.")))
    table = pd.DataFrame(
        {
            "estimate": [kind for _, kind, _ in rows],
            # Two signed decimals, as the findings quote these slopes.
            f"CSAT per doubling of the wait ({interval})": [f"{e.value:+.2f} ({e.ci_low:+.2f} to {e.ci_high:+.2f})"
                                                          for e, _, _ in rows],
            "rows": [e.n for e, _, _ in rows],
            "what it answers": [words for _, _, words in rows],
        }
    ).set_index("estimate")
    true = {e.name: truth.get(e.name) for e, _, _ in rows} if isinstance(truth, dict) else {e.name: truth for e, _, _ in rows}
    if any(value is not None for value in true.values()):
        table["covers the truth"] = ["" if true[e.name] is None else "yes" if e.covers(true[e.name]) else "NO: misses"
                                     for e, _, _ in rows]
    return numbers_as_text(table, f"CSAT per doubling of the wait ({interval})")
