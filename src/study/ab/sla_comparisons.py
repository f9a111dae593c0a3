"""The SLA experiment's comparisons: effects with adjusted p-values, power, the heavy-tail comparison of spend
and the exploratory segment table (used by :class:`study.ab.sla.SlaExperiment`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from study.ab import abtest, aggregate, robust
from study.ab.effect_tables import effects_summary
from study.ab.sufficient import Metric
from study.core import degenerate
from study.core.methods import method_name
from study.core.results import Skipped
from study.core.words import METRIC_WORDS


# Metrics whose relative lift is meaningful (a positive level; not a log time).
LIFT_METRICS = ("csat", "repeat_purchase", "next_spend", "customer_spend")
# Metrics whose values are shares: tables show them as percentages, their differences in percentage points.
SHARE_METRICS = frozenset({"repeat_purchase", "survey_response", "customer_repeat_rate"})


class Effects(list):
    """The engine's comparisons (:class:`study.ab.abstats.Effect`); ``skipped`` holds ``{metric: reason}``
    for the whole-experiment comparisons that could not be estimated."""

    def __init__(self, effects=(), skipped: dict | None = None):
        super().__init__(effects)
        self.skipped = dict(skipped or {})


def sla_effects(aggregates, alpha: float = 0.05) -> Effects:
    """Every SLA metric compared (:func:`study.ab.abtest.compare_metrics`) with Holm and BH p-values;
    a metric that cannot be compared is left out with its reason (``skipped``)."""

    skipped = {}
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregates, alpha=alpha, skipped=skipped))
    present = {e.metric for e in effects}
    reasons = {}
    for (_, metric, _), reason in skipped.items():
        if metric not in present:
            reasons.setdefault(metric, reason)
    if not effects and not reasons:
        units = aggregates.unit_counts()
        reasons["every metric"] = degenerate.arms({arm: int(units.get(arm, 0)) for arm in ("control", "treatment")}) \
            or "no metric could be compared"
    return Effects(effects, reasons)


def sla_notes(untimed: int, effects: Effects) -> list[str]:
    """What the SLA analysis skipped or left out, in words, for the results file: each comparison
    skipped with its reason, and the ``untimed`` tickets (without a first response time)."""
    notes = [f"comparison of {METRIC_WORDS.get(m, m.replace('_', ' '))}: skipped, {r}" for m, r in effects.skipped.items()]
    if untimed:
        notes.append(f"first response time: {untimed:,} tickets with no first response time are left out of its comparison")
    return notes


def sla_power(aggregates, effects: Effects, relative_mde: float = 0.05, alpha: float = 0.05):
    """:func:`study.ab.abtest.power_table` over the metrics that could be compared (``effects``), as a
    table indexed by metric, or why there is none."""

    compared = {e.metric for e in effects}
    kept = tuple(m for m in aggregates.metrics if m.name in compared)
    table = abtest.power_table(replace(aggregates, metrics=kept), relative_mde=relative_mde, alpha=alpha)
    if table.empty:
        why = "; ".join(f"{METRIC_WORDS.get(m, m.replace('_', ' '))}: {r}" for m, r in effects.skipped.items()) or "no metric to plan for"
        return Skipped("power", why)
    return table.set_index("metric")


def sla_unit_metrics(customers: pd.DataFrame) -> list:
    """The SLA experiment's metrics over customers: ticket-level ratios, and customer-level means
    adjusted by CUPED with pre-period spend where the data has it."""

    covariate = "pre_spend" if "pre_spend" in customers.columns else None
    metrics = [
        Metric("csat", "csat_sum", "ratio", denominator="surveys", label="CSAT (1-5), per answered survey"),
        Metric("repeat_purchase", "repeat_sum", "ratio", denominator="tickets", label="Repeat purchase, per ticket"),
        Metric("response_log2_hours", "log2_hours_sum", "ratio", denominator="tickets", label="First response (log2 hours), per ticket"),
        Metric("survey_response", "surveys", "ratio", denominator="tickets", label="Survey response rate, per ticket"),
        Metric("customer_repeat_rate", "repeat_rate", covariate=covariate, label="Repeat rate per customer (adjusted for pre-period spend)" if covariate else "Repeat rate per customer"),
    ]
    if "next_spend" in customers.columns and customers["next_spend"].notna().all():
        metrics.append(Metric("customer_spend", "next_spend", covariate=covariate,
                              label="Follow-up spend per customer (adjusted for pre-period spend)" if covariate else "Follow-up spend per customer"))
    return metrics


BOOTSTRAP_MAX_CUSTOMERS = 200_000


def robust_spend_effects(customers: pd.DataFrame, alpha: float = 0.05, seed: int = 2026) -> list | Skipped:
    """Follow-up spend per customer: Welch next to winsorized, trimmed, Mann-Whitney and bootstrap.

    Above :data:`BOOTSTRAP_MAX_CUSTOMERS` customers the bootstrap is left out (see
    :func:`study.ab.robust.robust_effects`).

    Returns
    -------
    list of Effect or Skipped
        One effect per method, or why the section was skipped (no ``next_spend``).
    """
    if "next_spend" not in customers.columns:
        return Skipped("heavy-tail comparison of spend", "the data has no next_spend")
    arms = customers["variant"]
    known = customers[customers["next_spend"].notna()]
    reason = degenerate.first(
        degenerate.arms({a: int((known["variant"] == a).sum()) for a in ("control", "treatment")}, units="customers with a known spend"),
        degenerate.constant(known, "next_spend", "nothing to compare"),
    )
    if reason:
        return Skipped("heavy-tail comparison of spend", reason)
    return robust.robust_effects(
        customers.loc[arms == "control", "next_spend"], customers.loc[arms == "treatment", "next_spend"],
        metric="customer_spend", alpha=alpha, seed=seed, label="Follow-up spend per customer",
        bootstrap_max_units=BOOTSTRAP_MAX_CUSTOMERS,
    )


def robust_spend_table(effects: list | Skipped):
    """:func:`robust_spend_effects` as a table, one row per method (or why there is none)."""
    if isinstance(effects, Skipped):
        return effects
    columns = ["method", "control", "treatment", "estimate", "CI low", "CI high", "p-value"]
    table = abtest.effects_table(effects)[columns]
    table = table.assign(method=table["method"].map(method_name)).set_index("method")
    if method_name("bootstrap_percentile") not in table.index:
        table.loc[f"{method_name('bootstrap_percentile')}: left out above {BOOTSTRAP_MAX_CUSTOMERS:,} customers"] = np.nan
    return table


def segment_table(customers: pd.DataFrame, metrics: list, segments: list[str], alpha: float = 0.05):
    """Every metric within each segment, with Holm and Benjamini-Hochberg p-values over the whole family.

    Returns
    -------
    pandas.DataFrame or Skipped
        Exploratory comparisons, or why there are none (no segment column in the data).
    """

    present = [s for s in segments if s in customers.columns and customers[s].nunique() > 1]
    if not present:
        return Skipped("segment breakdown", f"the data has none of the segment columns {', '.join(segments)}")
    effects, skipped = [], {}
    read = list(dict.fromkeys(["variant", *(c for m in metrics for c in m.columns)]))
    for segment in present:
        # Only the columns compared: grouping copies each group's rows of every column it is given.
        columns = customers[list(dict.fromkeys([*read, segment]))]
        effects += abtest.compare_metrics(aggregate.aggregate_frame(columns, metrics, segments=[segment]), alpha=alpha,
                                          skipped=skipped)
    if not effects:
        return Skipped("segment breakdown", "no segment has a metric that can be compared between the arms"
                       " (each needs at least two customers with a value, and some variation, in each arm)")
    return effects_summary(abtest.adjust_p_values(effects), SHARE_METRICS, methods=False)
