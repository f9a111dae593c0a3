"""The driver analysis's figure: the outcome along the driver, against its reference value, in the house style."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from study.report import figures
from study.report.plots import PALETTE


def dose_response(result, title: str | None = None, truth: Callable[[np.ndarray], np.ndarray] | None = None):
    """The curve with its pointwise band, the adjusted straight line, and (simulations) the true curve.

    Parameters
    ----------
    result : study.drivers.DriverAnalysis
        With a fitted shape (``result.has("shape")``).
    title : str, optional
        Defaults to one naming the outcome, the driver and the reference.
    truth : callable, optional
        Driver values -> the true difference from the reference (a simulation's :func:`study.data.orders.true_curve`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    shape, adjusted = result.shape, result.adjusted
    curve = shape.curve
    fig, ax = plt.subplots()
    color, line_color = sns.color_palette(PALETTE)[0], sns.color_palette(PALETTE)[1]
    # A signed driver's curve may jump at zero: each side is drawn on its own so no line crosses the step.
    sides = [curve[curve["value"] <= 0], curve[curve["value"] > 0]] if shape.step else [curve]
    for i, side in enumerate(sides):
        ax.fill_between(side["value"], side["ci_low"], side["ci_high"], color=color, alpha=0.25, linewidth=0,
                        label=f"{adjusted.ci_level:.0%} pointwise band" if i == 0 else None)
        ax.plot(side["value"], side["difference"], color=color, linewidth=2, label="curve (spline, adjusted)" if i == 0 else None)
    x = curve["value"].to_numpy()
    ax.plot(x, adjusted.value * (x - shape.reference), color=line_color, linewidth=1.2, linestyle="-.",
            label="straight line (adjusted slope)")
    if truth is not None:
        for i, side in enumerate(sides):
            values = side["value"].to_numpy()
            ax.plot(values, truth(values), color="black", linestyle="--", linewidth=1,
                    label="true curve (simulation)" if i == 0 else None)
    ax.axhline(0, color="grey", linewidth=1)
    ax.axvline(shape.reference, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel=result.driver, ylabel=f"{result.outcome} minus at {result.driver} = {shape.reference:g}",
           title=title or f"{result.outcome} along {result.driver}, against {result.driver} = {shape.reference:g}")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return figures.describe(fig, f"{result.outcome} along {result.driver}, as the difference from {result.driver} = "
                                 f"{shape.reference:g} with its {adjusted.ci_level:.0%} pointwise band, beside the adjusted "
                                 f"straight line (slope {adjusted.value:+.3g} per unit of {result.driver}); the curve runs "
                                 f"from {curve['difference'].min():+.3g} to {curve['difference'].max():+.3g}.")
