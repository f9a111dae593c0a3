"""Figure titles that state the finding, written from the numbers the figure shows."""

from __future__ import annotations

from study.core.results import Estimate
from study.core.words import pct, points
from study.data.descriptives import group_label


def title_by_group(summary, group_words: str) -> str:
    """Figure title from an outcomes-by-group table (:attr:`study.data.overview.Overview.by_band`): first versus
    last group's mean CSAT (its repeat-purchase rate when the data has no CSAT)."""
    import numpy as np

    first, last = summary.index[0], summary.index[-1]
    csat = "csat mean" in summary.columns
    column, words = ("csat mean", "Mean CSAT") if csat else ("repeat_purchase mean", "Repeat purchase")
    a, b = summary.loc[first, column], summary.loc[last, column]
    a, b = (f"{a:.2f}", f"{b:.2f}") if csat else (pct(a), pct(b))
    if isinstance(first, (bool, np.bool_)):  # a flag: its words ("unresolved", "resolved") say it all
        group = summary.index.name
        return (f"{words} {a} for {group_label(group, first)} tickets, "
                f"{b} for {group_label(group, last)} (unadjusted)")
    return f"{words} {a} for {group_words} {first}, {b} for {last} (unadjusted)"


def title_naive_adjusted(naive: Estimate, adjusted: Estimate) -> str:
    """Figure title stating both slopes."""
    return f"Naive slope {naive.value:+.2f}, adjusted {adjusted.value:+.2f} CSAT points per doubling of the wait"


def title_repeat(total: Estimate, direct: Estimate) -> str:
    """Figure title stating the total and direct speed effects on repeat purchase."""
    return f"Per doubling of the wait: {points(total.value)} repeat purchase in total, {points(direct.value)} with CSAT fixed"


def title_lifts(effects: list) -> str:
    """Figure title listing each metric's relative lift (:class:`study.ab.abstats.Effect`)."""
    arms = len({(e.treatment, e.control) for e in effects}) > 1
    return "Relative lift: " + ", ".join(
        f"{e.metric.replace('_', ' ')}{f' ({e.treatment})' if arms else ''} {pct(e.lift, signed=True)}" for e in effects)


def title_importance(table) -> str:
    """Figure title naming the most important attribute and its share."""
    top = table.iloc[0]
    return f"{top['label'].capitalize()} accounts for {top['share_of_explained']:.0%} of the explained CSAT variation"
