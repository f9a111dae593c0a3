"""How often each theme is named: overall, by response-time band, by resolution, by any grouping.

Shares are among the comments (tickets with no comment are not in the denominator), with Wilson
score intervals, which keep inside [0, 1] and hold their level for rare themes where the normal
interval does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from study.core.results import Estimate
from study.core.tables import numbers_as_text
from study.core.words import pct

# First response bands of the feedback pages: coarse enough that each band holds comments to count.
BANDS = ("under 1 h", "1-4 h", "4-24 h", "over 24 h")
_BAND_EDGES = (-np.inf, 60.0, 240.0, 1440.0, np.inf)
MIN_GROUP = 20  # fewer comments in a group than this: its share is not shown (the interval spans most of [0, 1])


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion (statsmodels' ``proportion_confint(method="wilson")``).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Parameters
    ----------
    successes, n : int
        Comments naming the theme, and comments (n > 0).
    alpha : float
        1 - confidence level.
    """
    if n <= 0:
        raise ValueError("a share needs at least one comment")
    z = stats.norm.ppf(1 - alpha / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def response_band(minutes: pd.Series) -> pd.Series:
    """First response time in the bands of :data:`BANDS` (ordered categorical; missing stays missing)."""
    return pd.cut(minutes, _BAND_EDGES, labels=list(BANDS), right=False)


def share(flags: pd.Series, alpha: float, name: str, label: str) -> Estimate:
    """The share of True among ``flags`` with its Wilson interval, as an estimate for the results file."""
    n, k = int(len(flags)), int(flags.sum())
    low, high = wilson(k, n, alpha)
    return Estimate(name, label, k / n, float(np.sqrt(k / n * (1 - k / n) / n)), low, high, None, n,
                    "share of comments; Wilson score interval", 1 - alpha, {"comments with the theme": k})


def by_group(themes: pd.DataFrame, groups: pd.Series, alpha: float, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Each theme's share in each group, with Wilson intervals, as a long table.

    Parameters
    ----------
    themes : pandas.DataFrame
        One boolean column per theme, one row per comment.
    groups : pandas.Series
        The group of each comment (missing: left out of every group).
    alpha : float
    min_group : int
        Groups with fewer comments are listed with their count but no share.

    Returns
    -------
    pandas.DataFrame
        Columns ``theme``, ``group``, ``comments``, ``with theme``, ``share``, ``CI low``, ``CI high``.
    """
    rows = []
    levels = groups.cat.categories if isinstance(groups.dtype, pd.CategoricalDtype) else sorted(groups.dropna().unique())
    for theme in themes.columns:
        for level in levels:
            inside = (groups == level).to_numpy()
            n, k = int(inside.sum()), int(themes[theme].to_numpy()[inside].sum())
            if n == 0:
                continue
            low, high = wilson(k, n, alpha) if n >= min_group else (np.nan, np.nan)
            rows.append({"theme": theme, "group": str(level), "comments": n, "with theme": k,
                         "share": k / n if n >= min_group else np.nan, "CI low": low, "CI high": high})
    return pd.DataFrame(rows, columns=["theme", "group", "comments", "with theme", "share", "CI low", "CI high"])


def wide(long: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """A long share table as themes x groups, each cell ``12.3% (10.1% to 14.8%)``."""
    def cell(row) -> str:
        if np.isnan(row["share"]):
            return f"({row['comments']} comments: too few)"
        return f"{pct(row['share'])} ({pct(row['CI low'])} to {pct(row['CI high'])})"

    if long.empty:
        return long
    table = long.assign(cell=long.apply(cell, axis=1)).pivot(index="theme", columns="group", values="cell")
    order = list(dict.fromkeys(long["group"]))
    table = table[order]
    table.index = [str(t).replace("_", " ") for t in table.index]
    table.index.name = "theme"
    table.columns.name = f"share of comments ({1 - alpha:.0%} CI)"
    return numbers_as_text(table, *order)
