"""How a comparison of two runs writes an estimate: its unit, read from the estimate's label and metric.

The results files hold plain numbers (0.409 for 40.9%); the label says what they are. A share is
shown as a percentage and its change in percentage points, a difference of shares in percentage
points, a relative lift as a signed percentage (its change in percentage points of lift), CSAT
differences in points, counts as whole numbers, and anything else as a plain number with as many
decimals as its size needs. Both runs' values of an estimate are written in one style, so that
they read alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from study.core.words import CSAT_POINTS, PP, Unit, pct
from study.report.sentences import finite
from study.report.verdict import SLA_UNITS

SHARE, SHARE_CHANGE, RELATIVE, POINTS, PLAIN, COUNT = "share", "share change", "relative", "points", "plain", "count"

# Checked in this order, on the lower-cased label; the first that matches decides.
_RATIO = re.compile(r"hazard ratio|odds ratio|correlation|robustness value|chi-square|\bauc\b|brier|r² of")
_COUNT = re.compile(r"weeks out of control|number of weeks")
_SHARE = re.compile(r"\bshare\b|probability|\brate\b|\bp\(|repeat[- ]purchase:|\bshare of\b")
_CHANGE = re.compile(r"\bchange|\bminus\b|difference|\beffect\b|\bper\b|\bversus\b|\bvs\b|instead of|\bfor an? "
                     r"(resolved|reopened)")
_POINTS = re.compile(r"csat points|\(points\b|^csat:|\bpoints \(")


def kind_of(estimate: Mapping) -> str:
    """The unit of an estimate as the results file holds it: one of the module's kinds."""
    label = str(estimate.get("label") or "").lower()
    name = str(estimate.get("name") or "")
    extra = estimate.get("extra") if isinstance(estimate.get("extra"), Mapping) else {}
    if "relative lift" in label or "_relative_lift_" in name:
        return RELATIVE
    if _RATIO.search(label):
        return PLAIN
    if _COUNT.search(label):
        return COUNT
    metric = extra.get("metric")
    if metric in SLA_UNITS:  # the experiment's own metrics, in the units its verdict uses
        unit = SLA_UNITS[metric]
        return POINTS if unit is CSAT_POINTS else SHARE_CHANGE if unit is PP else PLAIN
    by_arm = extra.get("value_by_arm")
    if metric and isinstance(by_arm, Mapping) and by_arm and all(finite(v) and 0 <= v <= 1 for v in by_arm.values()):
        return SHARE_CHANGE  # an experiment table's rate: both arms' values are shares
    if _SHARE.search(label):
        return SHARE_CHANGE if _CHANGE.search(label) else SHARE
    if _POINTS.search(label):
        return POINTS
    return PLAIN


def _plain_digits(values: list[float]) -> int:
    """Decimals a plain number needs: three below 1, two below 10, one below 100, none above."""
    largest = max((abs(v) for v in values if finite(v)), default=0.0)
    return 3 if largest < 1 else 2 if largest < 10 else 1 if largest < 100 else 0


@dataclass(frozen=True)
class Style:
    """How to write one estimate's values, interval and change between two runs.

    Attributes
    ----------
    kind : str
        ``share``, ``share change``, ``relative``, ``points``, ``plain`` or ``count``.
    signed : bool
        Whether values carry a sign (differences and changes do; levels do not).
    digits : int
        Decimals of a plain number.
    """

    kind: str
    signed: bool
    digits: int = 2

    def _unit(self) -> Unit:
        if self.kind in (SHARE, SHARE_CHANGE):
            return Unit(100.0, 1, " pp" if self.kind == SHARE_CHANGE else "%")
        if self.kind == RELATIVE:
            return Unit(100.0, 1, "%", "%")
        if self.kind == POINTS:
            return Unit(1.0, 2, " points")
        return Unit(1.0, 0 if self.kind == COUNT else self.digits)

    def value(self, value: float | None) -> str:
        """The point estimate with its unit, e.g. '41.7%', '+1.6 pp', '+0.15 points', '0.595'."""
        if not finite(value):
            return "not estimated"
        return self._unit()(value, signed=self.signed)

    def interval(self, low: float | None, high: float | None) -> str:
        """The interval's bounds, e.g. '41.2% to 42.2%', '+0.6 to +2.6 pp' (empty without bounds)."""
        if not (finite(low) and finite(high)):
            return ""
        unit = self._unit()
        if self.kind == SHARE:
            return f"{pct(low)} to {pct(high)}"
        written_low = unit(low, signed=self.signed, bound=True)
        return f"{written_low} to {unit(high, signed=self.signed)}"

    def change(self, difference: float) -> str:
        """Run B minus run A in the unit a reader compares them by: percentage points for shares and lifts."""
        if difference == 0:
            return "0 (same)"
        if self.kind in (SHARE, SHARE_CHANGE, RELATIVE):
            scale, digits, suffix = 100.0, 1, " pp"
        elif self.kind == POINTS:
            scale, digits, suffix = 1.0, 2, " points"
        else:
            scale, digits, suffix = 1.0, 0 if self.kind == COUNT else self.digits, ""
        # A real change never reads as +0.0: up to three more decimals, then '<' the smallest shown.
        for extra_digits in range(4):
            if round(difference * scale, digits + extra_digits) != 0:
                return Unit(scale, digits + extra_digits, suffix)(difference, signed=True)
        smallest = 10 ** -(digits + 3)
        return f"{'+' if difference > 0 else '-'}<{smallest:.{digits + 3}f}{suffix}"


def style_of(first: Mapping | None, second: Mapping | None) -> Style:
    """One style for an estimate of two runs (either may be missing), from the first that exists."""
    estimate = first or second or {}
    kind = kind_of(estimate)
    label = str(estimate.get("label") or "").lower()
    signed = kind in (SHARE_CHANGE, RELATIVE) or (kind in (POINTS, PLAIN) and bool(_CHANGE.search(label)))
    values = [e.get(k) for e in (first, second) if e for k in ("value", "ci_low", "ci_high")]
    return Style(kind, signed, _plain_digits([v for v in values if finite(v)]))


def separation(first: Mapping, second: Mapping) -> float:
    """How far apart two estimates are for their intervals: the distance between the values over the
    sum of the intervals' half-widths (above 1 the intervals of symmetric estimates no longer overlap)."""
    half = (first["ci_high"] - first["ci_low"]) / 2 + (second["ci_high"] - second["ci_low"]) / 2
    gap = abs(second["value"] - first["value"])
    return gap / half if half > 0 else math.inf if gap else 0.0
