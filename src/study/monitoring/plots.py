"""The monitoring figure: the five indicators as small multiples, each with its center, limits and flagged weeks."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator

from study.core.results import Skipped
from study.monitoring.findings import LABELS
from study.monitoring.indicators import INDICATORS
from study.report import figures
from study.report.plots import PALETTE


def _panel(ax, chart, colors) -> None:
    t, ind = chart.table, chart.indicator
    scale = 100 if ind.rate else 1
    weeks = t.index
    base = weeks[t["baseline"].to_numpy()]
    ax.axvspan(base[0], base[-1], color="grey", alpha=0.08, linewidth=0)
    for week in weeks[(t["volume"] != "").to_numpy() | (t["event"] != "").to_numpy()]:
        ax.axvspan(week - pd.Timedelta(days=3), week + pd.Timedelta(days=3), color=colors[4], alpha=0.2, linewidth=0)
    ax.step(weeks, t["upper"] * scale, where="mid", color="grey", linewidth=1, linestyle="--")
    ax.step(weeks, t["lower"] * scale, where="mid", color="grey", linewidth=1, linestyle="--")
    ax.axhline(chart.limits.center * scale, color="black", linewidth=0.9)
    ax.plot(weeks, t["value"] * scale, color=colors[0], marker="o", markersize=3.5, linewidth=1.2)
    out = t[t["signal"] != ""]
    ax.scatter(out.index, out["value"] * scale, s=70, facecolors="none", edgecolors=colors[3], linewidths=2, zorder=5)
    drift = t[t["ewma_signal"] != ""]
    ax.scatter(drift.index, drift["value"] * scale, s=28, marker="s", color=colors[1], zorder=6)
    unit = "%" if ind.rate else ind.unit
    ax.set_title(f"{LABELS[ind.name]} ({chart.chart})", fontsize=10)
    ax.set_ylabel(unit)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.tick_params(axis="x", labelsize=8, rotation=30)


def small_multiples(result, title: str | None = None):
    """One panel per indicator: weekly values, center line, limits, flagged weeks; a last panel of ticket volume.

    Circles mark weeks outside the Shewhart limits, squares weeks where the EWMA is outside its limits
    (a sustained shift); the grey band is the baseline, shaded weeks are high-volume weeks or known events.

    Parameters
    ----------
    result : study.monitoring.KpiMonitoring
    title : str, optional
        Defaults to one counting the indicators with weeks out of control.

    Returns
    -------
    matplotlib.figure.Figure
    """
    colors = sns.color_palette(PALETTE)
    fig, axes = plt.subplots(3, 2, figsize=(11, 9.5), sharex=True)
    flat = axes.ravel()
    for ax, ind in zip(flat, INDICATORS):
        chart = result.charts.get(ind.name)
        if chart is None or isinstance(chart, Skipped):
            reason = chart.reason if isinstance(chart, Skipped) else "not charted"
            ax.text(0.5, 0.5, f"{LABELS[ind.name]}: not charted\n{reason[:80]}", ha="center", va="center",
                    fontsize=8, wrap=True, transform=ax.transAxes)
            ax.set_yticks([])
            continue
        _panel(ax, chart, colors)
    volume = flat[-1]
    cal = result.calendar
    whole = cal[~cal["partial"]]
    volume.bar(whole.index, whole["tickets"], width=5, color=[colors[4] if v else colors[7] for v in whole["volume"]])
    volume.set_title("Tickets per week (shaded: high- or low-volume week)", fontsize=10)
    volume.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    volume.tick_params(axis="x", labelsize=8, rotation=30)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[0], marker="o", markersize=4, label="weekly value"),
               Line2D([], [], color="black", linewidth=0.9, label="center (baseline weeks)"),
               Line2D([], [], color="grey", linestyle="--", label="control limits"),
               Line2D([], [], linestyle="", marker="o", markersize=8, markerfacecolor="none", markeredgecolor=colors[3],
                      markeredgewidth=2, label="outside the limits"),
               Line2D([], [], linestyle="", marker="s", color=colors[1], label="EWMA outside its limits")]
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, fontsize=8)
    flagged = sum(1 for c in result.charted if len(c.flagged))
    fig.suptitle(title or (f"{flagged} of {len(result.charted)} key indicators had weeks out of control" if flagged
                           else f"All {len(result.charted)} key indicators stayed within their control limits"),
                 fontweight="bold")
    # The dates to mark, chosen once: matplotlib's date locator would choose them again for each panel at every
    # layout and draw of both copies (a tenth of the figure's time), and the same dates each time.
    for ax in flat:
        ax.xaxis.set_major_locator(FixedLocator(ax.xaxis.get_major_locator()()))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out = [f"{LABELS[c.indicator.name]} ({len(c.flagged)} week{'s' if len(c.flagged) != 1 else ''})"
           for c in result.charted if len(c.flagged)]
    return figures.describe(fig, f"Control charts of {len(result.charted)} key indicators week by week, and tickets per "
                                 "week: " + (f"weeks out of control in {', '.join(out)}." if out
                                             else "every week stayed within its control limits."))
