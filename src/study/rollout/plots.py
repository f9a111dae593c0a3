"""The rollout's figure: effects by week since adoption, with their intervals, in the house style."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from study.report import figures
from study.report.plots import PALETTE
from study.rollout.panel import OUTCOMES


def event_study(result, outcome: str = "csat", truth: dict | None = None):
    """Each week's effect against the week before adoption (drawn at 0), leads and lags, with intervals.

    Parameters
    ----------
    result : study.rollout.RolloutAnalysis
        With an event study of ``outcome``.
    outcome : str
    truth : dict, optional
        ``{weeks since adoption: true effect}`` of a simulation, drawn as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = result.events[outcome]
    level = result.att[outcome].ci_level
    fig, ax = plt.subplots()
    colors = sns.color_palette(PALETTE)
    for side, color, label in ((table.index < 0, colors[0], "before adoption"), (table.index >= 0, colors[1], "after")):
        part = table[side & table["se"].notna()]
        ax.errorbar(part.index, part["estimate"], yerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
                    fmt="o", color=color, capsize=3, label=f"{label} ({level:.0%} CI)")
    ax.plot([-1], [0], marker="o", markerfacecolor="white", color="grey", linestyle="none", label="reference week (-1)")
    if truth:
        weeks = sorted(k for k in truth if table.index.min() <= k <= table.index.max())
        ax.plot(weeks, [truth[k] for k in weeks], color="black", linestyle="--", linewidth=1, label="true effect (simulation)")
    ax.axhline(0, color="grey", linewidth=1)
    ax.axvline(-0.5, color="grey", linewidth=0.8, linestyle=":")
    window = result.parameters["window"]
    ax.set(xlabel=f"weeks since adoption (ends binned: {-window} or earlier, {window} or later)",
           ylabel=f"{OUTCOMES[outcome][1]}: difference from teams not yet adopted",
           title=f"{OUTCOMES[outcome][1][:1].upper()}{OUTCOMES[outcome][1][1:]} by week since adoption")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    after = table[(table.index >= 0) & table["se"].notna()]
    said = (f"; after go-live it runs from {after['estimate'].min():+.2f} to {after['estimate'].max():+.2f}"
            if len(after) else "")
    return figures.describe(fig, f"{OUTCOMES[outcome][1][:1].upper()}{OUTCOMES[outcome][1][1:]}: the adopting teams' "
                                 "difference from the teams not yet adopted, week by week around go-live, with "
                                 f"{level:.0%} intervals; the week before go-live is the reference at 0{said}.")
