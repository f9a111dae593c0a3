"""The A/B comparisons as a reader reads them: every number in the unit and with the decimals of the findings.

A share (a 0/1 metric, a rate) is shown as a percentage and its difference in percentage points; any
other metric with two decimals, as the findings write it. Signed quantities carry their sign.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from study.core.results import Skipped
from study.core.tables import numbers_as_text
from study.core.words import METRIC_WORDS, number, pct, points
from study.core.methods import method_name

DIGITS = 2  # decimals of a difference that is not a share, as the findings write it


def _value(value: float | None, share: bool) -> str:
    """An arm's level: '40.9%' for a share, '3.51' otherwise."""
    if value is None or not np.isfinite(value):
        return "–"
    return pct(value) if share else number(value, DIGITS)


def _difference(value: float | None, share: bool) -> str:
    """A signed difference: '+1.6 pp' for shares, '+0.15' otherwise."""
    if value is None or not np.isfinite(value):
        return "–"
    return points(value) if share else number(value, DIGITS, signed=True)


def difference_with_interval(effect, share: bool) -> str:
    """'+1.6 pp (+0.6 to +2.6)' or '+0.15 (+0.11 to +0.19)': the estimate and its interval in one cell."""
    if effect.ci_low is None or effect.ci_high is None:
        return _difference(effect.estimate, share)
    low, high = _difference(effect.ci_low, share), _difference(effect.ci_high, share)
    return f"{_difference(effect.estimate, share)} ({low.removesuffix(' pp')} to {high.removesuffix(' pp')})"


def _lift(effect) -> str:
    if effect.lift is None or not np.isfinite(effect.lift):
        return "–"
    if effect.lift_ci_low is None or effect.lift_ci_high is None:
        return pct(effect.lift, signed=True)
    return f"{pct(effect.lift, signed=True)} ({pct(effect.lift_ci_low, signed=True)} to {pct(effect.lift_ci_high, signed=True)})"


def effects_summary(effects: list, shares: Collection[str] = (), methods: bool = True, cuped: bool = False):
    """One row per comparison: arm levels, the difference with its interval, p-values and the lift.

    Parameters
    ----------
    effects : list of Effect
        Comparisons with adjusted p-values; an empty list with ``skipped`` (:class:`study.ab.sla.Effects`)
        gives the reasons instead.
    shares : collection of str
        Metric names whose values are shares: shown as percentages, differences in percentage points.
    methods : bool
        Whether to keep a column naming each comparison's method in words (the results file keeps the code);
        it is left out anyway when every comparison used the same method.
    cuped : bool
        Whether to add, for comparisons adjusted for a pre-period covariate (CUPED), the estimate without
        the adjustment and the variance it removed (:func:`cuped_details` gives them on their own).

    Returns
    -------
    pandas.DataFrame or Skipped
    """
    if not effects:
        why = "; ".join(f"{METRIC_WORDS.get(m, m.replace('_', ' '))}: {r}" for m, r in getattr(effects, "skipped", {}).items())
        return Skipped("effects", why or "no metric could be compared")
    lines = []
    for e in effects:
        share = e.metric in shares
        level = f"{1 - e.alpha:.0%}"
        line = {
            "segment": ", ".join(f"{k}={v}" for k, v in e.segment.items()) or "all",
            "metric": e.label or e.metric, "comparison": f"{e.treatment} vs {e.control}",
            "method": method_name(e.method_code),
            "control": _value(e.control_value, share), "treatment": _value(e.treatment_value, share),
            f"difference ({level} CI)": difference_with_interval(e, share), "p-value": e.p_value,
            "p (Holm)": e.adjusted_p_values.get("holm"), "p (BH)": e.adjusted_p_values.get("benjamini_hochberg"),
            f"relative lift ({level} CI)": _lift(e),
        }
        if cuped and "unadjusted" in e.extra:
            line["without CUPED"] = _difference(e.extra["unadjusted"]["estimate"], share)
            line["variance reduction"] = pct(e.extra["variance_reduction"])
        lines.append(line)
    table = pd.DataFrame(lines)
    if (table["segment"] == "all").all():
        table = table.drop(columns="segment")
    if table["comparison"].nunique() == 1:
        table = table.drop(columns="comparison")
    if not methods or table["method"].nunique() == 1:
        # One method for every row says nothing row by row: the section's text names it.
        table = table.drop(columns="method")
    if "without CUPED" in table.columns:
        table[["without CUPED", "variance reduction"]] = table[["without CUPED", "variance reduction"]].fillna("–")
    text_numbers = [c for c in table.columns if c in ("control", "treatment", "without CUPED", "variance reduction")
                    or c.startswith(("difference (", "relative lift ("))]
    return numbers_as_text(table.set_index([c for c in ("segment", "metric", "comparison") if c in table.columns]),
                           *text_numbers)


def cuped_details(effects: list, shares: Collection[str] = ()):
    """For each comparison adjusted for a pre-period covariate (CUPED): the adjusted difference beside the
    unadjusted one, and the share of the variance the adjustment removed; or why there is none."""
    adjusted = [e for e in effects if "unadjusted" in e.extra]
    if not adjusted:
        return Skipped("CUPED details", "no metric is adjusted for a pre-period covariate")
    table = pd.DataFrame([{
        "metric": e.label or e.metric, "comparison": f"{e.treatment} vs {e.control}",
        f"adjusted difference ({1 - e.alpha:.0%} CI)": difference_with_interval(e, e.metric in shares),
        "unadjusted difference": _difference(e.extra["unadjusted"]["estimate"], e.metric in shares),
        "unadjusted p-value": e.extra["unadjusted"]["p_value"],
        "variance reduction": pct(e.extra["variance_reduction"]),
    } for e in adjusted])
    if table["comparison"].nunique() == 1:
        table = table.drop(columns="comparison")
    intervals = [c for c in table.columns if c.startswith("adjusted difference (")]
    return numbers_as_text(table.set_index([c for c in ("metric", "comparison") if c in table.columns]),
                           *intervals, "unadjusted difference", "variance reduction")


def power_summary(table: pd.DataFrame, share_labels: Collection[str] = ()) -> pd.DataFrame:
    """:func:`study.ab.abtest.power_table` (indexed by metric label) for a reader: a share's level as a
    percentage and its MDE in percentage points, other metrics with two decimals, the method in words."""
    out = table.copy()
    shares = [label in share_labels for label in out.index]
    out["control level"] = [_value(v, share) for v, share in zip(out["control level"], shares)]
    out["MDE (absolute)"] = [(points(v, signed=False) if share else number(v, DIGITS)) if np.isfinite(v) else "–"
                             for v, share in zip(out["MDE (absolute)"], shares)]
    out["method"] = out["method"].map(method_name)
    return numbers_as_text(out, "control level", "MDE (absolute)")


def bayes_summary(table, share_labels: Collection[str] = ()):
    """:func:`study.ab.bayes.bayes_table` for a reader: a share's expected losses and credible interval in
    percentage points, other metrics' to two decimals, the interval in one cell (or the table's Skipped)."""
    if isinstance(table, Skipped):
        return table
    shares = [label in share_labels for label in table.index.get_level_values("metric")]

    def loss(v: float, share: bool) -> str:
        return points(v, signed=False) if share else number(v, DIGITS)

    out = table[["chance treatment is better"]].copy()
    for column in ("expected loss choosing treatment", "expected loss choosing control"):
        out[column] = [loss(v, s) for v, s in zip(table[column], shares)]
    out["credible interval"] = [
        f"{_difference(low, s).removesuffix(' pp')} to {_difference(high, s)}"
        for low, high, s in zip(table["credible low"], table["credible high"], shares)]
    out["prior"] = table["prior"]
    return numbers_as_text(out, "expected loss choosing treatment", "expected loss choosing control", "credible interval")
