"""The experiment as a measuring stick: the randomized effect of speed, next to the observational ones.

The SLA experiment randomized customers to faster replies. Its effect on CSAT divided by its effect
on log2 response time is the causal CSAT change per doubling of the wait (instrumental variables,
with the random assignment as the instrument). It assumes the SLA changed CSAT only through speed:
true if the SLA did nothing else (the treated got the same agents, the same resolution).
"""

from __future__ import annotations

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
from study.stats.cluster import sandwich_cov
from study.stats.design import design_matrix


def iv_estimate(
    y: np.ndarray, endogenous: np.ndarray, instrument: np.ndarray, exogenous: np.ndarray, clusters: np.ndarray
) -> tuple[float, float, float]:
    """Just-identified instrumental-variables estimate with a cluster-robust (CR1) standard error.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, shape (n,).
    endogenous : numpy.ndarray
        The regressor of interest, shape (n,).
    instrument : numpy.ndarray
        Its instrument, shape (n,).
    exogenous : numpy.ndarray
        Exogenous regressors including the constant, shape (n, k).
    clusters : numpy.ndarray
        Cluster codes, shape (n,).

    Returns
    -------
    estimate, se : float
        Coefficient of ``endogenous`` and its standard error.
    first_stage_f : float
        Cluster-robust Wald F of the instrument in the first stage (above 10: not weak).
    """
    regressors = np.column_stack([endogenous, exogenous])
    instruments = np.column_stack([instrument, exogenous])
    zx_inverse = np.linalg.inv(instruments.T @ regressors)
    beta = zx_inverse @ instruments.T @ y
    residual = y - regressors @ beta
    cov = sandwich_cov(zx_inverse, instruments * residual[:, None], clusters)

    first_inverse = np.linalg.inv(instruments.T @ instruments)
    first_beta = first_inverse @ instruments.T @ endogenous
    first_cov = sandwich_cov(first_inverse, instruments * (endogenous - instruments @ first_beta)[:, None], clusters)
    first_stage_f = float(first_beta[0] ** 2 / first_cov[0, 0])
    return float(beta[0]), float(np.sqrt(cov[0, 0])), first_stage_f


def randomized_speed_effect(data: TicketData, alpha: float = 0.05) -> Estimate | Skipped | None:
    """CSAT change per doubling of the wait, identified by the SLA's random assignment.

    Rows: answered surveys of customers with a single known arm. Controls (resolution, known
    confounders) only sharpen the estimate; randomization alone identifies it.

    Returns
    -------
    Estimate, Skipped or None
        ``None`` when the data has no experiment (no ``variant``); Skipped, with the reason, when the
        answered surveys cannot support the estimate (see :func:`study.regression.models.csat_problem`, and at
        least two customers in each arm).
    """
    if not data.has("variant"):
        return None
    rows, _, flags, controls = csat_sample(data, extra=["variant"])
    rows = experiment_rows(rows).rows
    held = on_rows(Adjustment(flags, controls), rows)  # what still varies once mixed customers are set aside
    flags, controls = held.flags, held.controls
    customers = rows.drop_duplicates("customer_id")["variant"].value_counts()
    reason = degenerate.first(
        csat_problem(rows, flags, controls, numeric=["variant"]),
        degenerate.arms({arm: int(customers.get(arm, 0)) for arm in ("control", "treatment")}, units="customers with an answer"),
    )
    if reason:
        return Skipped("randomized estimate", reason)
    frame = model_frame(rows, ["csat", SPEED, *flags, *controls], "customer_id")
    exogenous = design_matrix(frame, formula("csat", flags, controls).split("~", 1)[1]).to_numpy()
    treated = (rows["variant"] == "treatment").to_numpy(dtype=float)
    value, se, first_stage_f = iv_estimate(
        frame["csat"].to_numpy(), frame[SPEED].to_numpy(), treated, exogenous, frame["_cluster"].to_numpy().astype(np.int64)
    )
    crit = critical_value(alpha)
    return Estimate(
        "csat_per_doubling_randomized", "CSAT points per doubling of first response time, from the SLA experiment",
        value, se, float(value - crit * se), float(value + crit * se), wald_p_value(value, se), len(rows),
        "instrumental variables: SLA assignment as instrument for log2 response hours; SE clustered by customer_id; "
        f"randomized (first-stage F = {first_stage_f:.0f})",
        1 - alpha, {"first_stage_f": first_stage_f},
        model="csat ~ log2 response hours (instrumented by variant) + " + " + ".join(flags + controls), interval=WALD,
    )


def speed_effects(drivers, randomized: Estimate | None, truth: float | None = None) -> pd.DataFrame | Skipped:
    """:func:`speed_effect_table` of a :class:`study.regression.models.SatisfactionDrivers`, or the Skipped it is."""
    if isinstance(drivers, Skipped):
        return drivers
    return speed_effect_table(drivers.naive, drivers.get("csat_per_doubling_adjusted"), randomized, truth,
                              held_fixed=drivers.controls)


def speed_effect_table(
    naive: Estimate, adjusted: Estimate, randomized: Estimate | None, truth: float | None = None,
    held_fixed: list[str] = (),
) -> pd.DataFrame:
    """Naive, adjusted and randomized speed effects side by side, in words a stakeholder can follow.

    ``held_fixed`` names what the adjusted model holds fixed besides resolution (its controls).
    """
    held = ", ".join(["resolution", *(c.replace("_", " ") for c in held_fixed)])
    interval = f"{naive.ci_level:.0%} CI"
    rows = [
        (naive, "naive", "raw slope; slow tickets are also the hard ones, so it mixes the wait with the issue"),
        (adjusted, "adjusted (observational)", f"compares tickets alike in {held}; trusts that no confounder is left out"),
    ]
    if randomized is not None:
        rows.append((randomized, "randomized (SLA experiment)", "uses only the speed-up the experiment caused; "
                                                                "no confounding, wider interval"))
    table = pd.DataFrame(
        {
            "estimate": [kind for _, kind, _ in rows],
            "CSAT per doubling of the wait": [e.value for e, _, _ in rows],
            interval: [f"{e.ci_low:+.3f} to {e.ci_high:+.3f}" for e, _, _ in rows],
            "rows": [e.n for e, _, _ in rows],
            "how to read it": [words for _, _, words in rows],
        }
    ).set_index("estimate")
    if truth is not None:
        table["covers the truth"] = ["yes" if e.covers(truth) else "no" for e, _, _ in rows]
    return numbers_as_text(table, interval)
