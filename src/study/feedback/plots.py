"""The feedback figure: each theme's share of comments by first response band, with intervals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from study.feedback.prevalence import BANDS
from study.report import figures
from study.report.plots import PALETTE


def prevalence_by_band(result):
    """Each theme's share of comments in each first response band, with its Wilson interval.

    Parameters
    ----------
    result : study.feedback.FeedbackAnalysis
        With shares by band (``result.by_band`` a table, not Skipped).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the data has no first response time (the band table says why).
    """
    if not isinstance(result.by_band, pd.DataFrame) or result.by_band["share"].notna().sum() == 0:
        return None
    long = result.by_band.dropna(subset=["share"])
    themes = list(dict.fromkeys(long["theme"]))
    fig, ax = plt.subplots()
    colors = sns.color_palette(PALETTE, len(themes))
    width = 0.8 / max(len(themes), 1)
    for i, theme in enumerate(themes):
        rows = long[long["theme"] == theme]
        x = np.array([BANDS.index(g) for g in rows["group"]]) + (i - (len(themes) - 1) / 2) * width
        # Clipped at zero: at a share of 0 the Wilson bound can sit a rounding error above it.
        below = ((rows["share"] - rows["CI low"]) * 100).clip(lower=0)
        above = ((rows["CI high"] - rows["share"]) * 100).clip(lower=0)
        ax.errorbar(x, rows["share"] * 100, yerr=[below, above],
                    fmt="o", capsize=3, color=colors[i], label=theme.replace("_", " "))
    ax.set_xticks(range(len(BANDS)), BANDS)
    ax.set(xlabel="first response time", ylabel="share of comments naming the theme (%)",
           title=f"Themes by first response time ({1 - result.alpha:.0%} CI)")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    top = long.loc[long["share"].idxmax()]
    return figures.describe(fig, f"Share of comments naming each of {len(themes)} themes by first response time, with "
                                 f"{1 - result.alpha:.0%} intervals; the highest is {top['theme'].replace('_', ' ')} at "
                                 f"{top['share']:.1%} of comments when the first reply took {top['group']}.")
