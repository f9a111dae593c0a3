"""Figures in one house style: seaborn, colour-blind-safe palette, titles that state the finding."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from study.results import Estimate

PALETTE = "colorblind"


def set_style() -> None:
    """Apply the house style to every figure that follows."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    pd.set_option("display.max_colwidth", None)  # tables of labels and meanings must not be cut
    plt.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96, "figure.figsize": (8, 4.2), "axes.titleweight": "bold"})
    warnings.filterwarnings("ignore", category=FutureWarning, module="seaborn")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="seaborn")


def response_time_distribution(tickets: pd.DataFrame):
    """Histogram of first response time on a log axis, with the median marked."""
    fig, ax = plt.subplots()
    minutes = tickets["first_response_minutes"].clip(lower=1)
    sns.histplot(x=minutes, bins=60, log_scale=True, ax=ax, color=sns.color_palette(PALETTE)[0])
    median = float(minutes.median())
    ax.axvline(median, color="black", linestyle="--", linewidth=1)
    ax.set(xlabel="first response time (minutes, log scale)", ylabel="tickets",
           title=f"Half of the tickets get a first reply within {median:.0f} minutes")
    fig.tight_layout()
    return fig


def outcome_by_group(summary: pd.DataFrame, group: str, title: str):
    """Two panels: mean CSAT and repeat-purchase rate per group, with 95% intervals.

    ``summary`` is :func:`study.descriptives.outcomes_by` output.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(summary))
    for ax, (metric, unit, scale) in zip(axes, [("csat", "mean CSAT (1-5)", 1), ("repeat_purchase", "repeat purchase (%)", 100)]):
        mean = summary[f"{metric} mean"] * scale
        half = summary[f"{metric} ci half-width"] * scale
        ax.errorbar(x, mean, yerr=half, fmt="o", capsize=4, color=sns.color_palette(PALETTE)[0 if metric == "csat" else 1])
        ax.set_xticks(x, [str(i) for i in summary.index], rotation=20, ha="right")
        ax.set(xlabel=group, ylabel=unit)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def estimate_comparison(estimates: list[Estimate], title: str, xlabel: str, truth: float | None = None, scale: float = 1.0):
    """Point estimates with their intervals, one row each; a dashed line marks the true value if known."""
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.7 * len(estimates)))
    y = np.arange(len(estimates))[::-1]
    values = np.array([e.value for e in estimates]) * scale
    low = values - np.array([e.ci_low for e in estimates]) * scale
    high = np.array([e.ci_high for e in estimates]) * scale - values
    colors = sns.color_palette(PALETTE, len(estimates))
    for yi, v, lo, hi, c in zip(y, values, low, high, colors):
        ax.errorbar(v, yi, xerr=[[lo], [hi]], fmt="o", capsize=5, color=c, markersize=8)
    ax.axvline(0, color="grey", linewidth=1)
    if truth is not None:
        ax.axvline(truth * scale, color="black", linestyle="--", linewidth=1)
        ax.annotate("true value (simulation)", xy=(truth * scale, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.set_ylim(-0.6, len(estimates) - 0.4)
    ax.set_yticks(y, [_wrap(e.label) for e in estimates])
    ax.set_xlabel(xlabel)
    ax.set_title(title, pad=18 if truth is not None else 6)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 42) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
