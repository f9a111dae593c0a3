"""What the randomized estimate of speed assumes, and the checks the data allow: did the SLA move anything else?

The SLA experiment identifies the effect of *speed* only if the SLA changed CSAT through speed alone
(the exclusion restriction). It cannot be proven, but one part of it can be checked: an SLA that also
changed resolution, reopening, the QA score, the number of contacts or the work after the first reply
would show as a difference between the arms in those channels. A difference in the survey response
rate is a different problem: it changes *who* answers, and the estimate uses answered surveys only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.findings import Finding
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate, Skipped, format_p
from study.core.tables import numbers_as_text
from study.core.words import p_value, with_interval
from study.data.dataset import TicketData
from study.data.experiment import experiment_rows
from study.data.features import LOG_FLOOR_MINUTES
from study.stats.cluster import cluster_robust_cov
from study.stats.multiple import holm

RESPONSE = "survey_response"

# Channel -> (words, unit, how the per-ticket value is read). "share" channels are 0/1 (differences in pp).
CHANNELS = {
    "resolved": ("resolution", "share"),
    "reopened": ("reopening", "share"),
    "quality_score": ("QA score", "points (0-100)"),
    "contacts": ("contacts per case", "contacts"),
    "work_log2_minutes": ("time from first reply to resolution", "log2 minutes (resolved cases)"),
    RESPONSE: ("survey response", "share"),
}


def channel_values(tickets: pd.DataFrame, channel: str) -> pd.Series | None:
    """The per-ticket value of ``channel`` (missing where it does not apply), or ``None`` when the data lacks it.

    ``work_log2_minutes`` is log2 of the minutes from the first reply to resolution (resolution time
    less first response time, floored at one minute as the response time is): resolution time itself
    contains the wait, so the SLA moves it by construction.
    """
    if channel == RESPONSE:
        return tickets["csat_answered"].astype(float)
    if channel == "work_log2_minutes":
        if "resolution_minutes" not in tickets.columns or tickets["resolution_minutes"].isna().all():
            return None
        work = (tickets["resolution_minutes"] - tickets["first_response_minutes"]).astype(float)
        return np.log2(work.clip(lower=LOG_FLOOR_MINUTES))
    if channel not in tickets.columns or tickets[channel].isna().all():
        return None
    return tickets[channel].astype(float)


def arm_difference(values: np.ndarray, treated: np.ndarray, clusters: np.ndarray) -> tuple[float, float, float]:
    """Treatment minus control mean of ``values`` with its customer-clustered (CR1) standard error.

    The OLS slope of ``values`` on a treatment dummy (with a constant), as statsmodels'
    ``OLS(values, [1, treated]).fit(cov_type="cluster")`` gives it.

    Returns
    -------
    difference, se, control_mean : float
    """
    design = np.column_stack([np.ones(len(values)), treated])
    coefficients = np.linalg.lstsq(design, values, rcond=None)[0]
    cov = cluster_robust_cov(design, values - design @ coefficients, clusters)
    return float(coefficients[1]), float(np.sqrt(cov[1, 1])), float(coefficients[0])


@dataclass
class SideEffects:
    """The SLA's effect on every other recorded channel: treatment minus control, customer-clustered.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per channel: control mean, difference, interval, p-value, Holm-adjusted p-value
        (across the channels shown), customers and tickets, and whether it moved.
    estimates : list of Estimate
        ``sla_effect_on_<channel>``, each with ``extra["p_holm"]``.
    moved : list of str
        Channels other than survey response whose Holm-adjusted p-value is below ``alpha``.
    response_moved : bool
        Whether the survey response rate moved (Holm-adjusted).
    checked : list of str
        Channels in the table (keys of :data:`CHANNELS`), in its order.
    left_out : dict
        Channel -> why it is not in the table.
    alpha : float
    """

    table: pd.DataFrame
    estimates: list[Estimate]
    moved: list[str]
    response_moved: bool
    checked: list[str] = field(default_factory=list)
    left_out: dict = field(default_factory=dict)
    alpha: float = 0.05

    @property
    def notes(self) -> list[str]:
        """Each channel left out of the table, with the reason."""
        return [f"the SLA's effect on {CHANNELS[c][0]}: not checked, {reason}" for c, reason in self.left_out.items()]

    def get(self, channel: str) -> Estimate | None:
        return next((e for e in self.estimates if e.name == f"sla_effect_on_{channel}"), None)

    def verdict(self) -> str:
        """The exclusion check in one plain sentence."""
        if self.moved:
            listed = _and([CHANNELS[c][0] for c in self.moved])
            return (f"the SLA also moved {listed}: the randomized estimate mixes speed with that change, so it is not "
                    "the effect of speed alone")
        others = [CHANNELS[c][0] for c in self.checked if c != RESPONSE]
        if not others:
            return "no channel other than survey response is recorded: the exclusion restriction cannot be checked here"
        return (f"the SLA moved none of {_and(others, 'or')} (Holm-adjusted, alpha = {self.alpha:g}): consistent with the exclusion "
                "restriction, not a proof of it; a change the data do not record, such as rushed or less careful "
                "replies, would not show here")

    def findings(self) -> list[Finding]:
        """The exclusion check and the survey-response check, as Findings."""
        names = tuple(e.name for e in self.estimates)
        moved = [self.get(c) for c in self.moved]
        if moved:
            said = "; ".join(f"{CHANNELS[c][0]} {_effect_words(e, c)}" for c, e in zip(self.moved, moved))
            lines = [Finding(f"**The SLA also moved {_and([CHANNELS[c][0] for c in self.moved])}** ({said}): "
                             "the randomized estimate mixes speed with that change, so it is not the effect of speed "
                             "alone (the exclusion restriction is in doubt).", names, kind="warning", headline=True,
                             section="What the randomized estimate assumes")]
        else:
            verdict = self.verdict()
            lines = [Finding(f"**Did the SLA move anything else?** {verdict[0].upper()}{verdict[1:]}.", names, kind="check")]
        response = self.get(RESPONSE)
        if response is not None and self.response_moved:
            lines.append(Finding(
                f"**Who answers.** The SLA changed the survey response rate by {_effect_words(response, RESPONSE)}: "
                "the two arms' respondents differ in more than the speed of their replies, and the randomized "
                "estimate, computed on answered surveys only, mixes speed with that change in who answers.",
                (response.name,), kind="warning"))
        return lines


def _p(difference: float, se: float) -> float:
    # A channel constant within each arm has no sampling error: it moved exactly when the arms differ.
    if se > 0:
        return wald_p_value(difference, se)
    return 0.0 if difference != 0 else 1.0


def _and(items: list[str], conjunction: str = "and") -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def _effect_words(estimate: Estimate, channel: str) -> str:
    unit = "pp" if CHANNELS[channel][1] == "share" else "value"
    return f"{with_interval(estimate, unit)}, Holm-adjusted {p_value(estimate.extra['p_holm'])}"


def sla_side_effects(data: TicketData, alpha: float = 0.05) -> SideEffects | Skipped | None:
    """Did the SLA move other channels? Treatment minus control on every recorded channel.

    Rows: every ticket of customers with a single known arm (:func:`study.data.experiment.experiment_rows`),
    answered or not; each channel uses the tickets where it is recorded. Standard errors are
    clustered by customer (the randomized unit); p-values are Holm-adjusted across the channels shown.

    Parameters
    ----------
    data : TicketData
    alpha : float

    Returns
    -------
    SideEffects, Skipped or None
        ``None`` without an experiment; Skipped when fewer than two customers are in an arm.
    """
    if not data.has("variant"):
        return None
    units = experiment_rows(data.tickets)
    rows = units.rows
    counts = units.units["variant"].value_counts()
    reason = degenerate.arms({arm: int(counts.get(arm, 0)) for arm in ("control", "treatment")})
    if reason:
        return Skipped("the SLA's effect on other channels", reason)
    crit, results, left_out = critical_value(alpha), [], {}
    for channel, (words, unit) in CHANNELS.items():
        values = channel_values(rows, channel)
        if values is None:
            left_out[channel] = "the data does not record it"
            continue
        kept = rows.loc[values.notna()]
        customers = kept.drop_duplicates("customer_id")["variant"].value_counts()
        problem = degenerate.first(
            degenerate.arms({arm: int(customers.get(arm, 0)) for arm in ("control", "treatment")}),
            None if values.dropna().nunique() > 1 else f"{words} takes a single value",
        )
        if problem:
            left_out[channel] = problem
            continue
        clusters = pd.factorize(kept["customer_id"])[0]
        treated = (kept["variant"] == "treatment").to_numpy(dtype=float)
        difference, se, control = arm_difference(values.dropna().to_numpy(), treated, clusters)
        results.append((channel, difference, se, control, kept, int(clusters.max()) + 1))
    if not results:
        return Skipped("the SLA's effect on other channels", "no other channel is recorded with variation in both arms")
    adjusted = holm([_p(d, s) for _, d, s, *_ in results])
    estimates, lines = [], []
    for (channel, difference, se, control, kept, customers), p_holm in zip(results, adjusted):
        words, unit = CHANNELS[channel]
        p = _p(difference, se)
        estimates.append(Estimate(
            f"sla_effect_on_{channel}", f"SLA's effect on {words} (treatment minus control, {unit})",
            difference, se, difference - crit * se, difference + crit * se, p, len(kept),
            "difference in means, tickets of customers in one arm; SE clustered by customer_id; "
            "Holm-adjusted across the channels checked", 1 - alpha,
            {"p_holm": p_holm, "control_mean": control, "customers": customers}, interval=WALD,
        ))
        lines.append({"channel": words, "unit": unit, "control mean": control, "treatment minus control": difference,
                      f"{1 - alpha:.0%} CI": f"{difference - crit * se:+.4f} to {difference + crit * se:+.4f}",
                      "p-value": format_p(p), "p (Holm)": format_p(p_holm), "customers": customers, "tickets": len(kept),
                      "moved": "yes" if p_holm < alpha else "no"})
    table = numbers_as_text(pd.DataFrame(lines).set_index("channel"), f"{1 - alpha:.0%} CI", "p-value", "p (Holm)")
    moved = [c for (c, *_), p in zip(results, adjusted) if p < alpha and c != RESPONSE]
    response_moved = any(c == RESPONSE and p < alpha for (c, *_), p in zip(results, adjusted))
    return SideEffects(table, estimates, moved, response_moved, [c for c, *_ in results], left_out, alpha)
