"""The SLA experiment as a measuring stick for the scenarios: repeat purchase per doubling of the wait, randomized.

Customers were assigned at random to the SLA (``variant``: control / treatment). The assignment's
effect on repeat purchase divided by its effect on log2 first response hours is a change of the
repeat-purchase probability per doubling of the wait (the Wald ratio; instrumental variables with
the assignment as the instrument, :mod:`study.stats.iv`). Both effects are read on every ticket with
an outcome and a first response time of a customer seen in one arm only, with the pre-treatment
confounders (category, channel, loyalty tier) held fixed; standard errors are clustered by customer.
Resolution is not held fixed: the SLA may move it, so the ratio is the *total* effect of speed.

Randomization rules out confounding of the assignment. Reading the ratio as the effect of speed
assumes more: the SLA moved repeat purchase only through speed (exclusion: not through a politer
tone, resolution, or anything else it changed), and it moved speed (relevance: the first-stage F,
below :data:`WEAK_F` the ratio is not reported). The halving scenario it implies is the ratio times
the scenario's mean change in doublings, as for the adjusted model.

The difference from the adjusted slope is tested with a covariance that allows for the same
customers being in both: each estimate's influence per ticket (least squares: ``(X'X)^-1 x_i e_i``;
the ratio: ``(D'D)^-1 d_i (e_yi - b e_xi) / g_x`` for the reduced-form residuals, the delta method)
summed by customer, the covariance their cross-product times ``G / (G - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate, Skipped
from study.data.dataset import TicketData
from study.data.experiment import experiment_rows
from study.regression.fitting import SPEED, formula, model_frame
from study.stats.design import design_matrix
from study.stats.iv import ConfidenceSet, anderson_rubin_set, iv_estimate, reduced_forms

SECTION = "randomized estimate (SLA experiment)"
WEAK_F = 10.0  # Staiger-Stock rule of thumb: below it the ratio's Wald interval is not to be trusted
RATIO = "repeat_per_doubling_randomized"
ASSUMPTION = ("The randomized estimate assumes the SLA moved repeat purchase only through speed (not through "
              "resolution, tone or anything else it changed), and that it moved speed; randomization itself rules out "
              "confounding of who was assigned.")


@dataclass
class RandomizedRepeat:
    """The SLA's effect on repeat purchase over its effect on log2 first response hours.

    Attributes
    ----------
    ratio : Estimate
        ``repeat_per_doubling_randomized`` (Wald interval; ``extra`` holds the first-stage F and the
        Anderson-Rubin set).
    first_stage, reduced_form : Estimate
        The assignment's effect on log2 first response hours and on repeat purchase.
    anderson_rubin : ConfidenceSet
    influence : pandas.Series
        Each ticket's influence on the ratio (index of the tickets), for the joint covariance with the adjusted slope.
    clusters : pandas.Series
        Each ticket's customer, aligned with ``influence``.
    controls : list of str
    ledger : RowLedger
    """

    ratio: Estimate
    first_stage: Estimate
    reduced_form: Estimate
    anderson_rubin: ConfidenceSet
    influence: pd.Series
    clusters: pd.Series
    controls: list
    ledger: RowLedger

    @property
    def estimates(self) -> list[Estimate]:
        return [self.ratio, self.first_stage, self.reduced_form]


def randomized_repeat(data: TicketData, alpha: float = 0.05) -> RandomizedRepeat | Skipped:
    """Repeat purchase per doubling of the first response time, from the SLA's random assignment.

    Parameters
    ----------
    data : TicketData
        Needs ``variant`` (``control`` / ``treatment``, assigned by customer), ``repeat_purchase``,
        ``first_response_minutes`` and ``customer_id``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    RandomizedRepeat or Skipped
        Skipped, with the reason, without a ``variant`` column, with one arm, too few customers, or a
        first stage too weak to read a ratio.
    """
    if not data.has("variant"):
        return Skipped(SECTION, "the data has no variant column: it holds no SLA experiment to compare with")
    tickets = data.tickets
    needed = [c for c in ("repeat_purchase", "first_response_minutes", "customer_id") if c not in tickets.columns]
    if needed:
        return Skipped(SECTION, f"the data has no {', '.join(needed)}")
    units = experiment_rows(tickets, set_aside=data.set_aside)
    ledger = units.ledger
    ledger.keep(ledger.frame["repeat_purchase"].notna(), "no repeat-purchase outcome")
    ledger.keep(pd.to_numeric(ledger.frame["first_response_minutes"], errors="coerce") > 0, "no first response time")
    ledger.keep(ledger.frame["customer_id"].notna(), "no customer id")
    controls = [c for c in data.controls() if ledger.frame[c].nunique() > 1]
    rows = ledger.require(controls).copy()
    customers = rows.drop_duplicates("customer_id")["variant"].value_counts()
    reason = degenerate.arms({arm: int(customers.get(arm, 0)) for arm in ("control", "treatment")},
                             units="customers")
    if reason:
        return Skipped(SECTION, reason)
    rows[SPEED] = np.log2(rows["first_response_minutes"].astype(float) / 60.0)
    rows["repeat_purchase"] = rows["repeat_purchase"].astype(float)
    frame = model_frame(rows, ["repeat_purchase", SPEED, *controls], "customer_id")
    exogenous = design_matrix(frame, formula("repeat_purchase", [], controls).split("~", 1)[1]).to_numpy()
    z = (rows["variant"] == "treatment").to_numpy(dtype=float)
    y, x = frame["repeat_purchase"].to_numpy(), frame[SPEED].to_numpy()
    clusters = frame["_cluster"].to_numpy().astype(np.int64)
    forms = reduced_forms(y, x, z, exogenous, clusters)
    if forms.gamma_x == 0 or forms.v_xx <= 0:
        return Skipped(SECTION, "the two SLA arms have the same first response times: the SLA did not move speed")
    crit = critical_value(alpha)
    level = 1 - alpha
    ar = anderson_rubin_set(forms, crit, level)
    if forms.first_stage_f < WEAK_F:
        return Skipped(SECTION, (f"the SLA moved first response times too little to read a ratio (first-stage F = "
                                 f"{forms.first_stage_f:.1f}, below {WEAK_F:g}); the weak-instrument-robust "
                                 f"(Anderson-Rubin) {level:.0%} set of the per-doubling effect is {ar.words(3)}"))
    value, se, f = iv_estimate(y, x, z, exogenous, clusters, forms)
    held = ", ".join(c.replace("_", " ") for c in controls) or "nothing"
    method = (f"Wald ratio (instrumental variables): SLA assignment as instrument for log2 first response hours, "
              f"pre-treatment controls only ({held}); SE clustered by customer; first-stage F = {f:.1f}; "
              f"Anderson-Rubin {level:.0%} set {ar.words(4)}; assumes the SLA moved repeat purchase only through speed")
    model = "repeat_purchase ~ log2 response hours (instrumented by variant)" + "".join(f" + {c}" for c in controls)
    n = len(rows)
    ratio = Estimate(RATIO, "Change in repeat-purchase probability per doubling of first response time (SLA experiment, total)",
                     value, se, value - crit * se, value + crit * se, wald_p_value(value, se), n, method, level,
                     {"first_stage_f": f, "anderson_rubin": ar.to_dict(), "controls": list(controls),
                      "clusters": forms.clusters}, model=model, interval=WALD)
    first_se, reduced_se = float(np.sqrt(forms.v_xx)), float(np.sqrt(forms.v_yy))
    first = Estimate("first_stage_sla_on_log2_response_hours_repeat_rows",
                     "Change in log2 first response hours from the SLA (first stage), tickets with a repeat-purchase outcome",
                     forms.gamma_x, first_se, forms.gamma_x - crit * first_se, forms.gamma_x + crit * first_se,
                     wald_p_value(forms.gamma_x, first_se), n,
                     f"OLS log2 response hours ~ variant + pre-treatment controls ({held}); SE clustered by customer",
                     level, {"f": f, "weak_below": WEAK_F}, interval=WALD)
    reduced = Estimate("sla_effect_on_repeat_purchase_adjusted",
                       "Change in repeat-purchase probability from the SLA (reduced form), pre-treatment controls held fixed",
                       forms.gamma_y, reduced_se, forms.gamma_y - crit * reduced_se, forms.gamma_y + crit * reduced_se,
                       wald_p_value(forms.gamma_y, reduced_se), n,
                       f"OLS repeat purchase ~ variant + pre-treatment controls ({held}); SE clustered by customer",
                       level, interval=WALD)
    influence = _influence(y, x, z, exogenous, value, forms.gamma_x)
    return RandomizedRepeat(ratio, first, reduced, ar, pd.Series(influence, index=rows.index),
                            rows["customer_id"], list(controls), ledger)


def _influence(y: np.ndarray, x: np.ndarray, z: np.ndarray, exogenous: np.ndarray, ratio: float,
               gamma_x: float) -> np.ndarray:
    """Each row's influence on the Wald ratio: the delta method on the two reduced forms."""
    design = np.column_stack([z, exogenous])
    bread = np.linalg.inv(design.T @ design)
    outcomes = np.column_stack([y, x])
    residuals = outcomes - design @ (bread @ design.T @ outcomes)
    return (design @ bread[0]) * (residuals[:, 0] - ratio * residuals[:, 1]) / gamma_x


def slope_influence(fit, name: str) -> np.ndarray:
    """Each row's influence ``(X'X)^-1 x_i e_i`` on the least-squares coefficient ``name`` of a statsmodels fit."""
    column = list(fit.model.exog_names).index(name)
    inverse = np.asarray(fit.normalized_cov_params, dtype=float)
    return (np.asarray(fit.model.exog) @ inverse[:, column]) * np.asarray(fit.resid)


def joint_covariance(first: pd.Series, second: pd.Series, customers: pd.Series) -> float:
    """Customer-clustered covariance of two estimates from their per-ticket influences (zero where a ticket is unused).

    Parameters
    ----------
    first, second : pandas.Series
        Influences indexed by ticket.
    customers : pandas.Series
        Customer of every ticket in either index.
    """
    index = first.index.union(second.index)
    both = pd.DataFrame({"a": first.reindex(index, fill_value=0.0), "b": second.reindex(index, fill_value=0.0)})
    codes = pd.factorize(customers.reindex(index))[0]
    sums = both.groupby(codes).sum().to_numpy()
    groups = len(sums)
    return float(groups / (groups - 1) * (sums[:, 0] @ sums[:, 1]))
