"""A whole experiment from its aggregates: every metric, every treatment arm against control, every
segment; adjusted p-values; sample ratio and balance; power; tables and results-file estimates.

Typical use on a unit-level table (one row per randomized customer)::
    checks = unit_checks.check_units(path, unit="customer_id")
    metrics = [Metric("spend", "next_spend", covariate="pre_spend"), Metric("bought", "repeat_purchase", "proportion")]
    aggregates = aggregate.aggregate_duckdb(path, metrics, clean_unit="customer_id")
    srm = design.srm_from_counts(aggregates.unit_counts())
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregates))
    abtest.effects_table(effects); abtest.power_table(aggregates)
    results = abtest.estimates(effects)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from study.ab import power as power_analysis
from study.ab.abstats import Effect, mean_effect, proportion_effect, ratio_effect
from study.ab.aggregate import Aggregates
from study.ab.cuped import cuped_effect
from study.ab.cuped_pooled import pooled_cuped_effect, ratio_cuped_effect
from study.ab.sufficient import CovariateMoments, Metric, RatioCovariateMoments
from study.core.inference import Interval, critical_value
from study.core.results import Estimate
from study.stats.multiple import benjamini_hochberg, holm


def compare_metrics(aggregates: Aggregates, control: str = "control", alpha: float = 0.05, pooled: bool = False,
                    continuity: bool = False, reference: str = "t", skipped: dict | None = None,
                    cuped: str = "ols", alternative: str = "two-sided") -> list[Effect]:
    """Each treatment arm against ``control`` on each metric, in each segment.

    Means use Welch (``reference``), proportions the z-test (``pooled``, ``continuity``), ratio
    metrics the delta method, and metrics with a covariate CUPED (the adjusted effect, its
    ``extra`` carrying the unadjusted one and the variance reduction): ``cuped="ols"`` the
    regression with HC1 errors (:func:`study.ab.cuped.cuped_effect`), ``cuped="pooled"`` one theta
    pooled over both arms (:func:`study.ab.cuped_pooled.pooled_cuped_effect`). Ratio metrics with a
    pre-period ratio covariate always use the pooled form (:func:`study.ab.cuped_pooled.ratio_cuped_effect`).
    ``alternative`` (``"two-sided"``, ``"greater"``, ``"less"``) applies to every comparison except
    the regression form of CUPED, which is two-sided only.

    Returns
    -------
    list of Effect
        In segment, metric, treatment-arm order. A segment without the control arm, or a pair with
        fewer than 2 units in an arm, has nothing to compare and is left out of the list.

    With a ``skipped`` dict, a comparison that cannot be estimated (a ratio metric whose denominator
    is zero in an arm, a metric with one value in both arms, a zero standard error) is left out too,
    and ``skipped[(segment values, metric name, treatment)]`` says why
    (:func:`comparison_problem`); without it, such a comparison raises or gives what it gives.
    """
    effects = []
    for segment in aggregates.segment_keys():
        arms = aggregates.arm_names(segment)
        if control not in arms:
            continue
        segment_words = dict(zip(aggregates.segments, segment))
        for metric in aggregates.metrics:
            by_arm = aggregates.by_arm(metric.name, segment)
            for treatment in (a for a in arms if a != control):
                pair = by_arm[control], by_arm[treatment]
                if min(pair[0].n, pair[1].n) < 2 or pair[0].n + pair[1].n <= 3:
                    continue
                common = {"metric": metric.name, "arms": (control, treatment), "alpha": alpha, "label": metric.label or ""}
                problem = comparison_problem(metric, *pair, (control, treatment)) if skipped is not None else None
                effect = None if problem else _effect(metric, *pair, common, pooled, continuity, reference, cuped, alternative)
                if skipped is not None and not problem and not (effect.se is not None and np.isfinite(effect.se) and effect.se > 0):
                    problem = f"{_metric_words(metric)} does not vary within either arm: its standard error is zero"
                if problem:
                    skipped[(segment, metric.name, treatment)] = problem
                    continue
                effects.append(replace(effect, segment=segment_words))
    return effects


def _metric_words(metric: Metric) -> str:
    words = (metric.label or metric.name).split(",")[0].split(" (")[0]
    return words if words.startswith("CSAT") else words[:1].lower() + words[1:]


def comparison_problem(metric: Metric, control, treatment, arms: tuple[str, str] = ("control", "treatment")) -> str | None:
    """Why one metric cannot be compared between two arms' statistics, or ``None``.

    A ratio metric needs a positive denominator in each arm (e.g. at least one answered survey); any
    metric needs some variation: one value in both arms (every repeat purchase false, every CSAT 4)
    leaves nothing to compare.
    """
    if metric.kind == "ratio":
        for arm, stats_ in zip(arms, (control, treatment)):
            if not stats_.sum_den > 0:
                return f"no {metric.denominator or 'denominator'} with a value in the {arm} arm"
        values = [s.sum_num / s.sum_den for s in (control, treatment)]
        # Each arm's spread of the numerator around its ratio times the denominator: zero when every
        # unit has the arm's ratio (every answer the same), and then the delta method has no variance.
        spreads = [s.sum_num_sq - 2 * v * s.sum_num_den + v * v * s.sum_den_sq for s, v in zip((control, treatment), values)]
        flat = all(spread <= 1e-12 * (s.sum_num_sq or 1.0) for s, spread in zip((control, treatment), spreads))
        constant = values[0] == values[1] and flat
        if flat and not constant:
            return f"{_metric_words(metric)} does not vary within either arm: its standard error is zero"
    else:
        moments = [getattr(s, "metric", s) for s in (control, treatment)]
        values = [m.mean for m in moments]
        constant = values[0] == values[1] and all(m.var <= 1e-12 * max(1.0, m.mean ** 2) for m in moments)
    if not constant:
        return None
    value = values[0]
    if metric.name in ("repeat_purchase", "customer_repeat_rate") and value in (0.0, 1.0):
        return "no customer bought again" if value == 0 else "every customer bought again"
    shown = f"{value:g}"
    return f"{_metric_words(metric)} has one value ({shown}) in both arms: nothing to compare"


def _effect(metric: Metric, control, treatment, common: dict, pooled: bool, continuity: bool, reference: str,
            cuped: str = "ols", alternative: str = "two-sided") -> Effect:
    if cuped not in ("ols", "pooled"):
        raise ValueError(f"cuped must be 'ols' or 'pooled', not {cuped!r}")
    # Only non-default choices are passed on, so a default comparison is the call it always was.
    sides = {} if alternative == "two-sided" else {"alternative": alternative}
    if isinstance(control, RatioCovariateMoments):
        return ratio_cuped_effect(control, treatment, covariate=metric.covariate, reference=reference, **sides, **common).adjusted
    if metric.kind == "ratio":
        return ratio_effect(control, treatment, reference=reference, **sides, **common)
    if isinstance(control, CovariateMoments):
        if cuped == "pooled":
            return pooled_cuped_effect(control, treatment, covariate=metric.covariate, reference=reference, **sides,
                                       **common).adjusted
        if sides:
            raise ValueError("the regression form of CUPED is two-sided only; use cuped='pooled' for a one-sided test")
        return cuped_effect(control, treatment, covariate=metric.covariate, **common).adjusted
    if metric.kind == "proportion":
        return proportion_effect(control, treatment, pooled=pooled, continuity=continuity, **sides, **common)
    return mean_effect(control, treatment, reference=reference, **sides, **common)


# Adjusted p-values, by the name results carry: Holm controls the family-wise error rate under any dependence,
# Benjamini-Hochberg the false discovery rate (independent or positively dependent tests).
ADJUSTMENTS = {"holm": holm, "benjamini_hochberg": benjamini_hochberg}


def adjust_p_values(effects: Sequence[Effect], family: Callable[[Effect], Hashable] | None = None) -> list[Effect]:
    """Holm and Benjamini-Hochberg adjusted p-values within each family of comparisons.

    Parameters
    ----------
    effects : sequence of Effect
    family : callable, optional
        Effect -> family key; comparisons sharing a key are adjusted together. Default: all of them
        form one family (every metric, arm and segment passed in). E.g.
        ``lambda e: tuple(e.segment.items())`` adjusts within each segment.

    Returns
    -------
    list of Effect
        The same effects, in the same order, with ``adjusted_p_values`` filled in
        (``holm``, ``benjamini_hochberg``); effects without a p-value are left as they are.
    """
    effects = list(effects)
    groups: dict[Hashable, list[int]] = {}
    for i, e in enumerate(effects):
        if e.p_value is not None:
            groups.setdefault(family(e) if family else "all", []).append(i)
    for members in groups.values():
        p = [effects[i].p_value for i in members]
        adjusted = {name: method(p) for name, method in ADJUSTMENTS.items()}
        for j, i in enumerate(members):
            effects[i] = effects[i].with_adjusted_p_values(
                **{name: float(values[j]) for name, values in adjusted.items()}, family_size=len(members))
    return effects


def effects_table(effects: Sequence[Effect]) -> pd.DataFrame:
    """One row per comparison: arm values, estimate with interval and p-values, lift, and for CUPED
    the unadjusted estimate and the variance reduction beside the adjusted one."""
    lines = []
    for e in effects:
        line = {
            "segment": ", ".join(f"{k}={v}" for k, v in e.segment.items()) or "all",
            "metric": e.label or e.metric, "comparison": f"{e.treatment} vs {e.control}", "method": e.method_code,
            "control": e.control_value, "treatment": e.treatment_value, "estimate": e.estimate,
            "CI low": e.ci_low, "CI high": e.ci_high, "p-value": e.p_value,
            "p (Holm)": e.adjusted_p_values.get("holm"), "p (BH)": e.adjusted_p_values.get("benjamini_hochberg"),
            "relative lift": e.lift, "lift CI low": e.lift_ci_low, "lift CI high": e.lift_ci_high,
            "units (control / treatment)": f"{e.n_control:,} / {e.n_treatment:,}",
        }
        if "unadjusted" in e.extra:
            line["unadjusted estimate"] = e.extra["unadjusted"]["estimate"]
            line["unadjusted p-value"] = e.extra["unadjusted"]["p_value"]
            line["variance reduction"] = e.extra["variance_reduction"]
        lines.append(line)
    return pd.DataFrame(lines)


# Methods whose two-sided interval is estimate ± critical value(alpha, df) × se (a difference of shares
# clipped to [-1, 1]): an estimate of theirs can be read at another level (Estimate.conf_int).
REMADE_AT_ANOTHER_LEVEL = {"welch_t", "welch_z", "z_unpooled", "z_pooled", "delta_ratio_welch_t", "delta_ratio_z",
                           "cuped_ols_hc1_t", "cuped_pooled_welch_t", "cuped_pooled_z", "cuped_ratio_welch_t",
                           "cuped_ratio_z"}


def estimates(effects: Sequence[Effect]) -> list[Estimate]:
    """Every effect and lift as results-file estimates (arms, method, adjusted p-values in ``extra``); a
    difference made by a Wald interval knows how to remake it at another level."""
    out = []
    for e in effects:
        difference, *lift = e.estimates()
        if e.method_code in REMADE_AT_ANOTHER_LEVEL and e.alternative == "two-sided" and e.ci_low is not None:
            limits = (-1.0, 1.0) if e.method_code.startswith("z_") else None
            difference = replace(difference, interval=Interval(df=None if math.isinf(e.df) else e.df, limits=limits))
        out += [difference, *lift]
    return out


def balance_table(aggregates: Aggregates, covariates: Sequence[str], control: str = "control",
                  segment: tuple = ()) -> pd.DataFrame:
    """Standardized mean differences of pre-period covariates from the aggregates (each covariate
    aggregated as a mean metric), same definition as :func:`study.ab.design.standardized_mean_differences`:
    difference in means over ``sqrt((var_t + var_c) / 2)``."""
    lines = {}
    for covariate in covariates:
        by_arm = aggregates.by_arm(covariate, segment)
        c = by_arm[control]
        for treatment in (a for a in sorted(by_arm) if a != control):
            t = by_arm[treatment]
            sd = np.sqrt((t.var + c.var) / 2)
            lines[(covariate, treatment)] = {"control mean": c.mean, "treatment mean": t.mean,
                                             "SMD": (t.mean - c.mean) / sd if sd > 0 else 0.0}
    table = pd.DataFrame.from_dict(lines, orient="index")
    table.index.names = ["covariate", "treatment arm"]
    return table


def power_table(aggregates: Aggregates, control: str = "control", relative_mde: float = 0.05, alpha: float = 0.05,
                power: float = 0.8, segment: tuple = ()) -> pd.DataFrame:
    """For each mean or proportion metric and treatment arm: this experiment's MDE, and the units per
    arm the next experiment needs to detect ``relative_mde`` with the same split and this variance
    (after CUPED where the metric has a covariate: the adjusted SD)."""
    lines = []
    for metric in aggregates.metrics:
        if metric.kind == "ratio":
            continue
        by_arm = aggregates.by_arm(metric.name, segment)
        for treatment in (a for a in sorted(by_arm) if a != control):
            c, t = by_arm[control], by_arm[treatment]
            ratio = t.n / c.n
            if metric.kind == "proportion" and metric.covariate is None:
                achieved = power_analysis.achieved_mde(c, t, "proportion", alpha, power)
                plan = power_analysis.sample_size_proportions(c.mean, relative_mde * c.mean, alpha, power, ratio)
            else:
                sd = None
                if isinstance(c, CovariateMoments):
                    sd = cuped_effect(c, t, metric=metric.name).adjusted_sd
                    c, t = c.metric, t.metric
                sd = sd if sd is not None else power_analysis.pooled_sd(c, t)
                achieved = power_analysis.achieved_mde(c, t, "mean", alpha, power, sd=sd)
                plan = power_analysis.sample_size_means(relative_mde * c.mean, sd, alpha, power, ratio, control_mean=c.mean)
            lines.append({
                "metric": metric.label or metric.name, "comparison": f"{treatment} vs {control}",
                "control level": c.mean, "MDE (absolute)": achieved.difference, "MDE (relative)": achieved.relative,
                f"units per arm for {relative_mde:.1%} lift (control)": plan.units_control,
                f"units per arm for {relative_mde:.1%} lift (treatment)": plan.units_treatment,
                "method": plan.method.split(":")[0],
            })
    return pd.DataFrame(lines)


def mde_estimates(effects: Sequence[Effect], relative_mde: float = 0.05, power: float = 0.8) -> list[Estimate]:
    """Each whole-experiment comparison's minimum detectable effect, for the results file.

    The MDE at this sample is ``(z_{1-alpha/2} + z_{power}) * se``: the true difference a two-sided
    test at the comparison's level detects with probability ``power``. As the standard error falls
    with the square root of the sample, the units the next experiment needs to detect a lift of
    ``relative_mde`` (of the control level) are this sample times ``(MDE / target)²``, split as now
    (``extra.units_needed``). This is what an inconclusive verdict says could have been seen.
    """
    out = []
    for e in effects:
        if e.segment or not (e.se is not None and e.se > 0 and math.isfinite(e.se)):
            continue
        mde = (critical_value(e.alpha) + critical_value(2 * (1 - power))) * e.se
        target = abs(relative_mde * e.control_value) if e.control_value is not None else math.nan
        scale = (mde / target) ** 2 if target and math.isfinite(target) else math.nan
        extra = {"metric": e.metric, "arms": {"control": e.control, "treatment": e.treatment}, "segment": {},
                 "power": power, "relative_mde": relative_mde,
                 "units_needed": {e.control: e.n_control * scale, e.treatment: e.n_treatment * scale}
                 if math.isfinite(scale) else {}}
        out.append(Estimate(f"{e.metric}_mde_{e.treatment}_vs_{e.control}",
                            f"{e.label or e.metric}: minimum detectable effect at {power:.0%} power, {e.treatment} vs {e.control}",
                            float(mde), None, None, None, None, e.n_control + e.n_treatment,
                            "(z(1 - alpha/2) + z(power)) x standard error of the comparison", 1 - e.alpha, extra))
    return out
