"""What would happen to the repeat-purchase rate if first responses were faster: from the adjusted causal model.

The predictive models rank customers; they do not say what a change of service would do (a feature
that predicts well may only stand for the kind of customer or case). A scenario is read from the
adjusted model of 03's total effect of speed instead: a linear probability model of repeat purchase
on log2 first response hours, resolution and the known confounders (category, channel, loyalty
tier), standard errors clustered by customer. CSAT is left out: it lies on the path from speed to
buying again (a mediator), and holding it fixed would remove part of the effect asked about.

If every ticket's wait changed by ``d_i`` doublings (halving: ``d_i = -1``; an SLA of S minutes:
``d_i = min(0, log2(S / minutes_i))``, only tickets slower than S change), the model's change of the
rate is ``slope * mean(d_i)``, its standard error ``|mean(d_i)| * se(slope)``, and the predicted
rate the observed rate plus the change (the observed rate taken as known: its own sampling error is
far smaller than the slope's here). This holds when speed is unconfounded given the controls, the
effect is linear in doublings across the range the scenario moves, and the SLA would change only
speed (not who contacts service, nor resolution).

Beside the adjusted slope, as the study shows every observational estimate: the naive slope (nothing
held fixed, same tickets) and the changes it would imply; where the data holds the SLA experiment,
the randomized per-doubling effect (:mod:`study.predict.randomized`) with its changes and the test of
its difference from the adjusted slope; and the adjusted slope's sensitivity to a hidden confounder
(:mod:`study.predict.robustness`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import WALD, Interval, critical_value, wald_p_value
from study.core.results import Estimate, Skipped
from study.data.dataset import TicketData
from study.predict import randomized as randomized_
from study.predict import robustness
from study.regression.fitting import (
    SPEED,
    few_clusters_note,
    fit_ols,
    inference_df,
    model_text,
)

SLOPE = "repeat_per_doubling_scenario_model"
NAIVE = "repeat_per_doubling_naive"
DIFFERENCE = "repeat_per_doubling_adjusted_minus_randomized"
MIN_TICKETS = 100


@dataclass
class Scenarios:
    """The causal model's slope and the two scenarios.

    Attributes
    ----------
    slope : Estimate
        Change of the repeat-purchase probability per doubling of the first response time.
    observed : float
        The repeat-purchase rate of the rows modelled.
    changes, rates : dict
        Scenario name (``halved``, ``sla``) -> the change of the rate and the predicted rate (Estimates).
    shift : dict
        Scenario -> mean change in doublings per ticket (``mean(d_i)``) and the share of tickets it moves.
    controls : list of str
    ledger : RowLedger
    sla_minutes : float
    unchanged : dict
        Scenario -> why it would change nothing (no ticket slower than the SLA); it has no estimate.
    naive : Estimate or None
        The slope with nothing held fixed, on the same tickets; ``naive_changes`` the changes it implies.
    randomized : RandomizedRepeat, Skipped or None
        The SLA experiment's per-doubling effect (None: the data has no experiment);
        ``randomized_changes`` the changes it implies, ``difference`` adjusted minus randomized.
    sensitivity : SlopeSensitivity or Skipped or None
        Robustness values of the adjusted slope.
    """

    slope: Estimate
    observed: float
    changes: dict
    rates: dict
    shift: dict
    controls: list
    ledger: RowLedger
    sla_minutes: float
    unchanged: dict = field(default_factory=dict)
    naive: Estimate | None = None
    naive_changes: dict = field(default_factory=dict)
    randomized: object = None
    randomized_changes: dict = field(default_factory=dict)
    difference: Estimate | None = None
    sensitivity: object = None

    @property
    def estimates(self) -> list[Estimate]:
        out = [self.slope, *self.changes.values(), *self.rates.values()]
        if self.naive is not None:
            out += [self.naive, *self.naive_changes.values()]
        if isinstance(self.randomized, randomized_.RandomizedRepeat):
            out += [*self.randomized.estimates, *self.randomized_changes.values()]
            out += [self.difference] if self.difference is not None else []
        if isinstance(self.sensitivity, robustness.SlopeSensitivity):
            out += self.sensitivity.estimates
        return out

    def kinds(self) -> list[tuple[str, Estimate, dict]]:
        """(what, per-doubling slope, scenario -> change) for the adjusted, naive and randomized estimates there are."""
        out = [("adjusted (the scenario model)", self.slope, self.changes)]
        if self.naive is not None:
            out.append(("naive (nothing held fixed)", self.naive, self.naive_changes))
        if isinstance(self.randomized, randomized_.RandomizedRepeat):
            out.append(("randomized (SLA experiment)", self.randomized.ratio, self.randomized_changes))
        return out

    def table(self) -> pd.DataFrame:
        """Each scenario by each estimate (adjusted, naive, randomized): change of the rate and the predicted rate."""
        level = f"{self.slope.ci_level:.0%} CI"
        rows = []
        for key in self.changes:
            for kind, slope, changes in self.kinds():
                change = changes[key]
                rows.append({"scenario": _title(key, self.sla_minutes), "estimate": kind,
                             "tickets it speeds up": self.shift[key]["moved"],
                             "mean change (doublings)": self.shift[key]["mean"], "per doubling": slope.value,
                             "change of the rate": change.value,
                             f"change {level}": f"{change.ci_low:+.4f} to {change.ci_high:+.4f}",
                             "predicted rate": self.observed + change.value,
                             f"rate {level}": f"{self.observed + change.ci_low:.4f} to {self.observed + change.ci_high:.4f}"})
        return pd.DataFrame(rows).set_index(["scenario", "estimate"])


def _title(key: str, sla_minutes: float) -> str:
    return "every first response twice as fast" if key == "halved" else f"first responses capped at {sla_minutes:g} minutes"


def doublings(minutes: np.ndarray, key: str, sla_minutes: float) -> np.ndarray:
    """Each ticket's change in doublings of its wait under a scenario (negative: faster)."""
    if key == "halved":
        return np.full(len(minutes), -1.0)
    return np.minimum(0.0, np.log2(sla_minutes / np.asarray(minutes, float)))


def scenarios(data: TicketData, sla_minutes: float = 60.0, alpha: float = 0.05) -> Scenarios | Skipped:
    """The repeat-purchase rate if first responses were halved, or capped at ``sla_minutes``, from the adjusted model.

    Parameters
    ----------
    data : TicketData
        Needs ``repeat_purchase``, ``first_response_minutes`` and ``customer_id``; ``resolved`` and the
        confounders are held fixed where present with two values.
    sla_minutes : float
        The SLA's cap on the first response, in minutes.
    alpha : float
        1 - confidence level.
    """
    section = "scenarios from the adjusted model"
    tickets = data.tickets
    missing = [c for c in ("repeat_purchase", "first_response_minutes", "customer_id") if c not in tickets.columns]
    if missing:
        return Skipped(section, f"the data has no {', '.join(missing)}")
    ledger = RowLedger(tickets, data.set_aside)
    ledger.keep(tickets["repeat_purchase"].notna(), "no repeat-purchase outcome")
    ledger.keep(pd.to_numeric(ledger.frame["first_response_minutes"], errors="coerce") > 0, "no first response time")
    ledger.keep(ledger.frame["customer_id"].notna(), "no customer id")
    flags = [c for c in ("resolved",) if c in tickets.columns and ledger.frame[c].nunique() > 1]
    if flags:
        ledger.keep(ledger.frame["resolved"].notna(), "missing resolved")
    controls = [c for c in data.controls() if ledger.frame[c].nunique() > 1]
    ledger.require(controls)
    rows = ledger.frame.copy()
    rows[SPEED] = np.log2(rows["first_response_minutes"].astype(float) / 60.0)
    rows["repeat_purchase"] = rows["repeat_purchase"].astype(float)
    reason = degenerate.first(
        degenerate.model(rows, "repeat_purchase", [SPEED, *flags], controls, "customer_id",
                         "tickets with an outcome and a first response time"),
        (f"only {len(rows)} tickets with an outcome and a first response time: a slope of a 0/1 outcome needs at least "
         f"{MIN_TICKETS}" if len(rows) < MIN_TICKETS else None))
    if reason:
        return Skipped(section, reason)
    fit = fit_ols(rows, "repeat_purchase", [SPEED, *flags], controls, cluster="customer_id")
    value, se = float(fit.params[SPEED]), float(fit.bse[SPEED])
    df = inference_df(fit)  # t(G - 1) with few customers, as every clustered model of the study
    crit = critical_value(alpha, df)
    interval = Interval(df=df)
    held = ", ".join(c.replace("_", " ") for c in [*flags, *controls]) or "nothing"
    method = (f"OLS (linear probability model) of repeat purchase on log2 first response hours, holding {held} fixed; "
              "SE clustered by customer; CSAT left out (a mediator)")
    slope = Estimate(SLOPE, "Change in repeat-purchase probability per doubling of first response time (adjusted, total)",
                     value, se, value - crit * se, value + crit * se, wald_p_value(value, se, df), len(rows),
                     method + few_clusters_note(fit), 1 - alpha, model=model_text(fit), interval=interval)
    observed = float(rows["repeat_purchase"].mean())
    minutes = rows["first_response_minutes"].to_numpy(float)
    changes, rates, shift = {}, {}, {}
    unchanged = {}
    for key in ("halved", "sla"):
        d = doublings(minutes, key, sla_minutes)
        mean = float(d.mean())
        if not (d < 0).any():
            unchanged[key] = (f"no ticket waited longer than {sla_minutes:g} minutes for its first response: the cap "
                              "would change nothing")
            continue
        change, change_se = value * mean, abs(mean) * se
        shift[key] = {"mean": mean, "moved": int((d < 0).sum())}
        words = _title(key, sla_minutes)
        extra = {"mean_doublings": mean, "tickets_moved": shift[key]["moved"], "observed_rate": observed}
        changes[key] = Estimate(
            f"repeat_rate_change_{'response_halved' if key == 'halved' else 'sla_cap'}",
            f"Change of the repeat-purchase rate if {words} (adjusted causal model)", change, change_se,
            change - crit * change_se, change + crit * change_se, wald_p_value(change, change_se, df),
            len(rows), method + "; change = slope x mean change in doublings per ticket", 1 - alpha, extra,
            model=model_text(fit), interval=interval)
        rates[key] = Estimate(
            f"repeat_rate_if_{'response_halved' if key == 'halved' else 'sla_cap'}",
            f"Repeat-purchase rate if {words} (adjusted causal model)", observed + change, change_se,
            observed + change - crit * change_se, observed + change + crit * change_se, None, len(rows),
            method + "; observed rate plus the change, the observed rate taken as known", 1 - alpha, extra,
            model=model_text(fit), interval=interval)
    found = Scenarios(slope, observed, changes, rates, shift, [*flags, *controls], ledger, float(sla_minutes), unchanged)
    _beside(found, data, rows, fit, alpha)
    return found


def _implied(slope: Estimate, shift: dict, sla_minutes: float, suffix: str, words: str) -> dict:
    """The change of the rate each scenario implies for a per-doubling ``slope`` (slope x mean change in doublings)."""
    df = slope.interval.df if slope.interval is not None else None
    crit = critical_value(1 - slope.ci_level, df)
    out = {}
    for key, moved in shift.items():
        mean = moved["mean"]
        change, change_se = slope.value * mean, abs(mean) * slope.se
        out[key] = Estimate(
            f"repeat_rate_change_{'response_halved' if key == 'halved' else 'sla_cap'}_{suffix}",
            f"Change of the repeat-purchase rate if {_title(key, sla_minutes)} ({words})", change, change_se,
            change - crit * change_se, change + crit * change_se, wald_p_value(change, change_se, df), slope.n,
            f"{slope.name} x mean change in doublings per ticket ({mean:+.4f}, over the tickets of the scenario model)",
            slope.ci_level, {"mean_doublings": mean, "tickets_moved": moved["moved"]}, model=slope.model,
            interval=slope.interval)
    return out


def _beside(found: Scenarios, data: TicketData, rows: pd.DataFrame, fit, alpha: float) -> None:
    """The naive slope, the randomized one and the adjusted slope's sensitivity, beside the adjusted slope."""
    naive_fit = fit_ols(rows, "repeat_purchase", [SPEED], [], cluster="customer_id")
    value, se = float(naive_fit.params[SPEED]), float(naive_fit.bse[SPEED])
    df = inference_df(naive_fit)
    crit = critical_value(alpha, df)
    found.naive = Estimate(
        NAIVE, "Change in repeat-purchase probability per doubling of first response time (naive: nothing held fixed)",
        value, se, value - crit * se, value + crit * se, wald_p_value(value, se, df), len(rows),
        "OLS (linear probability model) of repeat purchase on log2 first response hours alone, the tickets of the "
        "scenario model; SE clustered by customer; an association, not adjusted for any confounder" + few_clusters_note(naive_fit),
        1 - alpha, model=model_text(naive_fit), interval=Interval(df=df))
    found.naive_changes = _implied(found.naive, found.shift, found.sla_minutes, "naive", "naive comparison")
    found.randomized = randomized_.randomized_repeat(data, alpha)
    if isinstance(found.randomized, randomized_.RandomizedRepeat):
        ratio = found.randomized.ratio
        found.randomized_changes = _implied(ratio, found.shift, found.sla_minutes, "randomized", "SLA experiment")
        found.difference = _difference(found.slope, ratio, fit, rows, found.randomized, data, alpha)
    found.sensitivity = robustness.sensitivity(fit, found.slope, found.controls, alpha)


def _difference(slope: Estimate, ratio: Estimate, fit, rows: pd.DataFrame, randomized, data: TicketData,
                alpha: float) -> Estimate:
    """Adjusted minus randomized per-doubling effect, with their customer-clustered covariance."""
    adjusted = pd.Series(randomized_.slope_influence(fit, SPEED), index=rows.index)
    customers = data.tickets["customer_id"]
    cov = randomized_.joint_covariance(adjusted, randomized.influence, customers)
    value = slope.value - ratio.value
    se = float(np.sqrt(max(slope.se**2 + ratio.se**2 - 2 * cov, 0.0)))
    crit = critical_value(alpha)
    return Estimate(
        DIFFERENCE, "Adjusted minus randomized change in repeat-purchase probability per doubling of first response time",
        value, se, value - crit * se, value + crit * se, wald_p_value(value, se), slope.n,
        "difference of the two estimates; its SE allows for the customers in both (per-ticket influences summed by "
        "customer); a difference says the adjusted slope is confounded or the SLA acted other than through speed",
        1 - alpha, {"covariance": cov, "correlation": cov / (slope.se * ratio.se)}, interval=WALD)


def true_change(minutes: np.ndarray, per_doubling: float, key: str, sla_minutes: float) -> float:
    """The simulator's true change of the rate: its total effect per doubling times the mean change in doublings."""
    return float(per_doubling * doublings(minutes, key, sla_minutes).mean())
