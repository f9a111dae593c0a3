"""The repeat-purchase model's figures: calibration curve, gains chart, permutation importance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from study.core.results import Skipped
from study.predict.models import NAMES
from study.report import figures
from study.report.plots import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from study.predict.result import RepeatModel


def calibration(result: RepeatModel) -> Figure | None:
    """Observed repeat-purchase rate against mean predicted probability, ten groups of test tickets per model.

    Returns
    -------
    matplotlib.figure.Figure, or None when the model was skipped
    """
    if result.skipped:
        return None
    fig, ax = plt.subplots()
    colors = sns.color_palette(PALETTE)
    low = high = None
    for color, kind in zip(colors, result.models):
        table = result.calibration(kind)
        ax.plot(table["predicted"], table["observed"], marker="o", color=color, label=NAMES[kind])
        low = min(low if low is not None else 1, table[["predicted", "observed"]].min().min())
        high = max(high if high is not None else 0, table[["predicted", "observed"]].max().max())
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    ax.set(xlabel="mean predicted probability of buying again (tenth of test tickets)",
           ylabel="observed share who bought again", title="Calibration on the test months")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    worst = max((result.calibration(kind)["observed"] - result.calibration(kind)["predicted"]).abs().max()
                for kind in result.models)
    return figures.describe(fig, "Share of test contacts followed by a purchase against the mean predicted probability, "
                                 f"in tenths of the test contacts, for each model; the largest gap is {worst * 100:.1f} "
                                 "percentage points.")


def gains(result: RepeatModel, kind: str = "boosted") -> Figure | None:
    """Cumulative share of the customers who did not buy again, found by contacting the least likely first.

    Returns
    -------
    matplotlib.figure.Figure, or None when the model was skipped
    """
    if result.skipped:
        return None
    table = result.gains(kind)
    fig, ax = plt.subplots()
    colors = sns.color_palette(PALETTE)
    x = np.r_[0, table["cumulative share of tickets"].to_numpy()] * 100
    y = np.r_[0, table["cumulative share"].to_numpy()] * 100
    ax.plot(x, y, marker="o", color=colors[0], label=NAMES[kind])
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", linewidth=1, label="contacts picked at random")
    ax.annotate(f"{y[1]:.0f}% of non-returners\nin the first 10%", (x[1], y[1]), textcoords="offset points",
                xytext=(10, -25))
    ax.set(xlabel="% of test contacts, least likely to buy again first", ylabel="% of those who did not buy again found",
           title="Gains: who not to lose", xlim=(0, 100), ylim=(0, 100))
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return figures.describe(fig, "Gains curve: the share of the customers who did not buy again found by taking the test "
                                 f"contacts least likely to buy again first; the first 10% hold {y[1]:.0f}% of them, "
                                 "against 10% picked at random.")


def importance(result: RepeatModel) -> Figure | None:
    """AUC lost on the test months when each feature is shuffled (predictive importance, not causal).

    Returns
    -------
    matplotlib.figure.Figure, or None when the model was skipped
    """
    table = result.importance_table()
    if isinstance(table, Skipped):
        return None
    table = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.0, 0.3 * len(table) + 1.4))
    ax.barh(table.index, table["AUC lost when shuffled"], xerr=table["sd over shuffles"],
            color=sns.color_palette(PALETTE)[0])
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(xlabel="AUC lost when the feature is shuffled (predictive, not causal)", ylabel="",
           title="What the ranking relies on")
    fig.tight_layout()
    top = table["AUC lost when shuffled"].idxmax()
    return figures.describe(fig, f"AUC lost on the test months when each of {len(table)} features is shuffled "
                                 f"(predictive, not causal); the largest loss is {top}, "
                                 f"{table['AUC lost when shuffled'].max():.3f}.")
