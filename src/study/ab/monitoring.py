"""Reading an experiment before it ends: which look this is, and whether its primary metric may be called.

Teams rerun ``study run`` as data arrives; a fixed-horizon test read at every run calls a difference
that is not there far more often than its level says. A column map may declare the plan::

    experiment:
      ...
      plan: {units: 90000, looks: 10, method: group_sequential}   # or method: always_valid

- ``group_sequential``: looks planned at ``1/looks, 2/looks, ..., 1`` of ``units`` (all arms
  together); Lan-DeMets spending (``spending: obrien_fleming`` by default, or ``pocock``). A run with
  ``n`` units is the look at information ``n / units``; the looks before it are taken to have been at
  their planned fractions and not to have crossed (had one crossed, the experiment would have
  stopped).
- ``always_valid``: gbstats' mixture-SPRT confidence sequence, narrowest at ``units``; it may be read
  at any time, any number of times.

With several treatment arms each is judged at ``alpha / arms`` (Bonferroni). The decision of each
primary comparison goes into its ``extra.sequential``, which the verdict reads
(:func:`study.report.verdict.verdict`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

from study.ab.sequential import always_valid, group_sequential_boundaries
from study.data.column_map import check_keys
from study.data.convert import short
from study.data.schema import DataError

PLAN_KEYS = ("units", "looks", "method", "spending")
METHODS = ("group_sequential", "always_valid")
SPENDING = ("obrien_fleming", "pocock")


@dataclass(frozen=True)
class Plan:
    """How often and how long an experiment is to be read (module docstring)."""

    units: int
    looks: int = 1
    method: str = "group_sequential"
    spending: str = "obrien_fleming"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_plan(value, source: str) -> Plan | None:
    """The ``plan`` entry of a column map's experiment section, or ``None`` when there is none.

    Raises
    ------
    DataError
        Naming the key and the value: units or looks that are not positive whole numbers, an unknown
        method or spending function, an unknown key (with the nearest known one).
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DataError(f"{source}: plan must be a mapping such as {{units: 90000, looks: 10, method: group_sequential}}, "
                        f"not {short(value)}")
    check_keys(value, PLAN_KEYS, "plan", source)
    whole = {}
    for key, default in (("units", None), ("looks", 1)):
        number = value.get(key, default)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise DataError(f"{source}: plan: {key} must be a whole number of at least 1, not {short(number)}")
        whole[key] = number
    method = str(value.get("method", "group_sequential")).strip().lower()
    spending = str(value.get("spending", "obrien_fleming")).strip().lower()
    if method not in METHODS:
        raise DataError(f"{source}: plan: method must be one of {', '.join(METHODS)}, not {short(value.get('method'))}")
    if spending not in SPENDING:
        raise DataError(f"{source}: plan: spending must be one of {', '.join(SPENDING)}, not {short(value.get('spending'))}")
    return Plan(whole["units"], whole["looks"], method, spending)


@lru_cache(maxsize=4096)
def _boundary(information: tuple[float, ...], alpha: float, spending: str) -> float:
    return group_sequential_boundaries(information, alpha=alpha, spending_function=spending).boundaries[-1]


def judge(plan: Plan, estimate: float, se: float, units: int, alpha: float) -> dict:
    """Whether a comparison may be called at this look, and the facts of the look.

    Parameters
    ----------
    plan : Plan
    estimate, se : float
        The difference and its standard error now.
    units : int
        Units so far, all compared arms together.
    alpha : float
        The level this comparison is judged at (already divided among arms).

    Returns
    -------
    dict
        ``method``, ``look``, ``looks``, ``information`` (units over planned units), ``final``,
        ``significant``, ``alpha`` and, for group-sequential plans, ``z`` and ``boundary``; for
        always-valid ones, ``ci_low``, ``ci_high`` and ``p_value``.
    """
    information = units / plan.units
    facts = {"method": plan.method, "units": int(units), "planned_units": plan.units, "information": information,
             "alpha": alpha}
    if plan.method == "always_valid":
        sequence = always_valid(estimate, se, units, alpha=alpha, tuning=plan.units)
        return {**facts, "look": None, "looks": None, "final": information >= 1, "significant": sequence.p_value < alpha,
                "ci_low": sequence.ci_low, "ci_high": sequence.ci_high, "p_value": sequence.p_value}
    look = min(plan.looks, max(1, math.ceil(information * plan.looks - 1e-9)))
    fractions = tuple(round(j / plan.looks, 12) for j in range(1, look)) + (min(max(information, 1e-9), 1.0),)
    if len(fractions) > 1 and fractions[-1] <= fractions[-2]:  # a run exactly at a planned fraction
        fractions = fractions[:-1]
    boundary = _boundary(fractions, alpha, plan.spending)
    z = estimate / se
    return {**facts, "look": look, "looks": plan.looks, "final": information >= 1 or look == plan.looks,
            "significant": abs(z) >= boundary, "z": z, "boundary": boundary, "spending": plan.spending}


def tag(effects: list, plan: Plan | None, primary: str | None, alpha: float) -> list:
    """The primary metric's whole-experiment effects with ``extra.sequential`` (:func:`judge`) under ``plan``."""
    if plan is None or primary is None:
        return effects
    arms = sum(1 for e in effects if e.metric == primary and not e.segment)
    out = []
    for e in effects:
        if e.metric == primary and not e.segment and e.se and math.isfinite(e.se) and e.se > 0:
            facts = judge(plan, e.estimate, e.se, e.n_control + e.n_treatment, alpha / max(arms, 1))
            e = replace(e, extra={**e.extra, "sequential": facts})
        out.append(e)
    return out
