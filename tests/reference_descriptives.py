"""The overview's descriptive statistics computed directly with pandas: the reference that
study.data.overview (DuckDB over the validated copy) is tested against."""

from __future__ import annotations

import pandas as pd
from scipy import stats

from study.core.results import Estimate
from study.data.descriptives import t_half_width


def mean_interval(values: pd.Series, alpha: float = 0.05) -> tuple[float, float, int]:
    """Mean, half-width of its t interval, and count of non-missing values.

    The interval treats rows as independent; it describes the data, it is not an effect estimate.
    """
    x = values.dropna().astype(float).to_numpy()
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), t_half_width(x.std(ddof=1) if n > 1 else None, n, alpha), n


def outcomes_by(tickets: pd.DataFrame, group: str, alpha: float = 0.05) -> pd.DataFrame:
    """Tickets, mean CSAT and repeat-purchase rate per value of ``group``, with interval half-widths.

    Parameters
    ----------
    tickets : pandas.DataFrame
        Validated tickets with derived columns.
    group : str
        Column to group by (e.g. ``response_band``, ``resolved``).
    alpha : float

    Returns
    -------
    pandas.DataFrame
        Indexed by group value, in the group's order; columns ``tickets``, ``csat answers``,
        ``csat mean``, ``csat ci half-width``, ``repeat_purchase mean``,
        ``repeat_purchase ci half-width``.
    """
    rows = {}
    for value, part in tickets.groupby(group, observed=True, sort=True):
        csat_mean, csat_half, answers = mean_interval(part["csat"], alpha)
        repeat_mean, repeat_half, _ = mean_interval(part["repeat_purchase"], alpha)
        rows[value] = {
            "tickets": len(part), "csat answers": answers,
            "csat mean": csat_mean, "csat ci half-width": csat_half,
            "repeat_purchase mean": repeat_mean, "repeat_purchase ci half-width": repeat_half,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = group
    out.attrs["ci_level"] = 1 - alpha  # for the "± (95% CI)" headers of display_table
    return out


def distribution(values: pd.Series, quantiles: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)) -> pd.Series:
    """Count, missing, mean and quantiles of a numeric column."""
    x = values.astype(float)
    summary = {"count": int(x.notna().sum()), "missing": int(x.isna().sum()), "mean": x.mean()}
    summary.update({f"{q:.0%} quantile": x.quantile(q) for q in quantiles})
    return pd.Series(summary, name=values.name)


def headline(tickets: pd.DataFrame, alpha: float = 0.05) -> list:
    """Headline facts of the data as estimates: mean CSAT, survey response rate, repeat-purchase rate
    and median first response time.

    Intervals are t intervals that treat tickets as independent: descriptive, not causal.
    """
    out = []
    for name, label, column in [
        ("csat_mean", "Mean CSAT of answered surveys (1-5)", "csat"),
        ("survey_response_rate", "Share of tickets with a CSAT answer", "csat_answered"),
        ("repeat_purchase_rate", "Share of tickets followed by a repeat purchase", "repeat_purchase"),
    ]:
        mean, half, n = mean_interval(tickets[column], alpha)
        out.append(Estimate(name, label, mean, half / stats.t.ppf(1 - alpha / 2, max(n - 1, 1)),
                            mean - half, mean + half, None, n, "mean, t interval, rows independent", 1 - alpha))
    minutes = tickets["first_response_minutes"]
    out.append(Estimate("median_first_response_minutes", "Median first response time (minutes)",
                        float(minutes.median()), None, None, None, None, int(minutes.notna().sum()), "median", 1 - alpha))
    return out
