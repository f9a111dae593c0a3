"""The scenario model beside the naive comparison and the SLA experiment, and its sensitivity, in words and one table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from study.core import words as w
from study.core.findings import Finding, skipped
from study.core.results import Estimate, Skipped
from study.core.tables import numbers_as_text
from study.predict.randomized import ASSUMPTION, RandomizedRepeat
from study.predict.robustness import SlopeSensitivity
from study.predict.robustness import _key as benchmark_key

if TYPE_CHECKING:
    from study.predict.scenarios import Scenarios


def _pp(e: Estimate) -> str:
    """'-1.86 pp (95% CI -2.25 to -1.47 pp)'."""
    return f"{w.points(e.value, 2)} ({e.ci_level:.0%} CI {w.points(e.ci_low, 2)[:-3]} to {w.points(e.ci_high, 2)})"


def _share(value: float) -> str:
    return w.pct(value, 1 if value >= 0.01 or value == 0 else 2)


def comparison(found: Scenarios, truth: dict | None = None) -> list[Finding]:
    """The naive and randomized estimates beside the adjusted one, and the adjusted slope's sensitivity."""
    out = []
    halved = found.changes.get("halved")
    held = ", ".join(c.replace("_", " ") for c in found.controls) or "nothing"
    if found.naive is not None and halved is not None:
        naive = found.naive_changes["halved"]
        out.append(Finding(
            (f"A naive comparison, holding nothing fixed, would say each doubling of the wait goes with "
             f"{_pp(found.naive)} in the repeat-purchase probability, so that halving every first response would change "
             f"the rate by {_pp(naive)}; the adjusted model, holding {held} fixed, says {_pp(halved)}. The gap is the "
             "part of the naive association that goes with the variables held fixed (slow tickets are also the hard ones)."),
            (found.naive.name, naive.name, halved.name)))
    r = found.randomized
    if isinstance(r, Skipped):
        out.append(skipped(r.section, r.reason))
    elif isinstance(r, RandomizedRepeat) and halved is not None:
        change, d = found.randomized_changes["halved"], found.difference
        text = (f"The SLA experiment as a measuring stick: customers assigned at random to the SLA waited "
                f"{abs(r.first_stage.value):.2f} doublings {'less' if r.first_stage.value < 0 else 'more'} (first-stage F = "
                f"{r.ratio.extra['first_stage_f']:,.0f}) and their repeat-purchase rate changed by {_pp(r.reduced_form)}; the ratio puts the effect at {_pp(r.ratio)} per doubling, "
                f"so halving every first response would change the rate by {_pp(change)}, against the adjusted model's "
                f"{_pp(halved)}.")
        if d is not None:
            text += (f" Adjusted minus randomized: {_pp(d)}, {w.p_value(d.p_value)}; "
                     + ("the two agree within their uncertainty." if d.ci_low <= 0 <= d.ci_high else
                        "they differ: the adjusted slope may be confounded, or the SLA acted other than through speed."))
        out.append(Finding(text + " " + ASSUMPTION, tuple(e.name for e in (r.ratio, change, d) if e is not None)))
        if truth and truth.get("sla_effect_on_log2_response_hours"):
            true = truth["sla_effect_on_repeat_purchase"] / truth["sla_effect_on_log2_response_hours"]
            out.append(Finding(f"Simulated data: the SLA's true effect on repeat purchase over its true effect on log2 "
                               f"response hours is {w.points(true, 2)} per doubling; the randomized interval "
                               f"{w.covers_words(r.ratio, true)} it.", (r.ratio.name,), kind="truth"))
    s = found.sensitivity
    if isinstance(s, Skipped):
        out.append(skipped(s.section, s.reason))
    elif isinstance(s, SlopeSensitivity):
        out.append(_sensitivity(s))
    return out


def _sensitivity(s: SlopeSensitivity) -> Finding:
    r = s.result
    level = f"{1 - r.alpha:.0%}"
    text = (f"**Sensitivity.** A hidden confounder would have to explain {_share(r.robustness_value)} of the residual "
            "variance of both first response speed and repeat purchase to erase the adjusted slope (robustness value)"
            + (f", and {_share(r.robustness_value_alpha)} of both for its {level} interval to reach zero."
               if r.robustness_value_alpha > 0 else f"; its {level} interval already reaches zero."))
    names = [f"{s.slope.name}_robustness_value", f"{s.slope.name}_robustness_value_alpha"]
    top = s.strongest
    if top is not None:
        name = str(top["benchmark"]).replace("_", " ")
        text += (f" The strongest variable held fixed, {name}, explains {_share(top['r2dxj_x'])} of speed's and "
                 f"{_share(top['r2yxj_dx'])} of repeat purchase's residual variance; a hidden factor as strong as it, on "
                 f"top of it, would move the slope {'past zero ' if top['adjusted_estimate'] * s.slope.value < 0 else ''}to "
                 f"{w.points(top['adjusted_estimate'], 2)} per doubling ({level} CI "
                 f"{w.points(top['ci_low'], 2)[:-3]} to {w.points(top['ci_high'], 2)}).")
        names.append(f"{s.slope.name}_bound_1x_{benchmark_key(str(top['benchmark']))}")
    return Finding(text, tuple(names))


def scenario_summary(table: pd.DataFrame) -> pd.DataFrame:
    """:meth:`study.predict.scenarios.Scenarios.table` for a reader: the slope and the change of the rate in
    percentage points and the predicted rate in percent, each with its interval in one cell, to the findings'
    two decimals."""
    level = next(c for c in table.columns if c.startswith("change ") and c.endswith("CI")).removeprefix("change ")

    def rate(text: str) -> str:
        low, high = (float(v) for v in text.split(" to "))
        return f"{w.pct(low, 2)} to {w.pct(high, 2)}"

    def change(text: str) -> str:
        low, high = (float(v) for v in text.split(" to "))
        return f"{w.points(low, 2)[:-3]} to {w.points(high, 2)[:-3]}"

    out = pd.DataFrame({
        "tickets it speeds up": table["tickets it speeds up"],
        "mean change (doublings)": table["mean change (doublings)"],
        "per doubling": [w.points(v, 2) for v in table["per doubling"]],
        f"change of the rate ({level})": [f"{w.points(v, 2)} ({change(ci)})"
                                          for v, ci in zip(table["change of the rate"], table[f"change {level}"])],
        f"predicted rate ({level})": [f"{w.pct(v, 2)} ({rate(ci)})"
                                      for v, ci in zip(table["predicted rate"], table[f"rate {level}"])],
    }, index=table.index)
    return numbers_as_text(out, "per doubling", f"change of the rate ({level})", f"predicted rate ({level})")


def speed_table(found: Scenarios) -> pd.DataFrame:
    """Per doubling of the wait: the naive, adjusted and randomized estimates, their difference, what each answers."""
    held = ", ".join(c.replace("_", " ") for c in found.controls) or "nothing"
    answers = {
        "adjusted (the scenario model)": (f"How buying again differs with speed among tickets alike in {held}; "
                                          "an association that assumes no confounder is left out."),
        "naive (nothing held fixed)": ("How buying again differs between slower and faster tickets; slow tickets are "
                                       "also the hard ones, so it mixes the wait with the case."),
        "randomized (SLA experiment)": ("The SLA's random speed-up: its effect on buying again over its effect on the "
                                        "wait; assumes the SLA moved buying again only through speed."),
    }
    rows = [(kind, slope, answers[kind]) for kind, slope, _ in found.kinds()]
    if found.difference is not None:
        rows.append(("adjusted minus randomized", found.difference,
                     "Zero when the adjusted model recovers what the experiment measures."))
    level = f"{found.slope.ci_level:.0%} CI"
    # In percentage points with two decimals and a sign, as the findings quote these slopes.
    table = pd.DataFrame({"estimate": [k for k, _, _ in rows],
                         "per doubling of the wait": [w.points(e.value, 2) for _, e, _ in rows],
                         level: [f"{w.points(e.ci_low, 2)[:-3]} to {w.points(e.ci_high, 2)[:-3]}" for _, e, _ in rows],
                         "p-value": [w.p_value(e.p_value).removeprefix("p ").removeprefix("= ") for _, e, _ in rows],
                         "tickets": [e.n for _, e, _ in rows],
                         "what it answers": [a for _, _, a in rows]}).set_index("estimate")
    return numbers_as_text(table, "per doubling of the wait", level)
