"""Descriptive tables: outcomes by group, distributions, data facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from study.results import format_p


def mean_interval(values: pd.Series, alpha: float = 0.05) -> tuple[float, float, int]:
    """Mean, half-width of its t interval, and count of non-missing values.

    The interval treats rows as independent; it describes the data, it is not an effect estimate.
    """
    x = values.dropna().astype(float).to_numpy()
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(x[0]), float("nan"), 1
    half = stats.t.ppf(1 - alpha / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return float(x.mean()), float(half), n


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
    return out


def distribution(values: pd.Series, quantiles: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)) -> pd.Series:
    """Count, missing, mean and quantiles of a numeric column."""
    x = values.astype(float)
    summary = {"count": int(x.notna().sum()), "missing": int(x.isna().sum()), "mean": x.mean()}
    summary.update({f"{q:.0%} quantile": x.quantile(q) for q in quantiles})
    return pd.Series(summary, name=values.name)


def display_table(frame: pd.DataFrame, percent: list[str] = (), digits: int = 3) -> pd.DataFrame:
    """A copy with numbers as fixed-decimal text (percent columns as '12.3%'), for stable display.

    Text rather than a Styler: a Styler's HTML carries a random id, which would make every run's
    output differ.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in percent:
            out[column] = [("–" if pd.isna(v) else f"{v:.1%}") for v in values]
        elif ("p-value" in str(column) or str(column).startswith("p (")) and pd.api.types.is_numeric_dtype(values):
            out[column] = ["–" if pd.isna(v) else format_p(v) for v in values]
        elif pd.api.types.is_float_dtype(values):
            out[column] = [("–" if pd.isna(v) else f"{v:,.{digits}f}") for v in values]
        elif pd.api.types.is_integer_dtype(values):
            out[column] = [("–" if pd.isna(v) else f"{v:,}") for v in values]
    return out


def headline(tickets: pd.DataFrame, alpha: float = 0.05) -> list:
    """Headline facts of the data as estimates: mean CSAT, survey response rate, repeat-purchase rate
    and median first response time.

    Intervals are t intervals that treat tickets as independent: descriptive, not causal.
    """
    from study.results import Estimate

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


def row_accounting(tickets: pd.DataFrame, rows_read: int) -> pd.DataFrame:
    """Rows read, kept, and how many each kind of analysis can use (and why the others cannot)."""
    answered = int(tickets["csat_answered"].sum())
    lines = [
        ("rows read", rows_read, ""),
        ("rows failing the data contract", rows_read - len(tickets),
         "a value breaking the contract stops the run with a message naming it"),
        ("rows kept", len(tickets), ""),
        ("  with a CSAT answer", answered, "used by the satisfaction analyses"),
        ("  without a CSAT answer", len(tickets) - answered,
         "dropped from the satisfaction analyses (no answer); kept for repeat purchase"),
    ]
    return pd.DataFrame(lines, columns=["rows", "count", "note"]).set_index("rows")


def column_report(tickets: pd.DataFrame, mapped_from: dict[str, str] | None = None) -> pd.DataFrame:
    """The validation report of ``study validate`` (found, mapped or missing; type; share missing;
    problems) with each column's meaning."""
    from study.schema import BY_NAME, validation_report

    report = validation_report(tickets, mapped_from)[0]
    report["meaning"] = [BY_NAME[c].description for c in report.index]
    return report


def ledgers_table(rows: dict) -> pd.DataFrame:
    """Row accounting of several models side by side: ``{model: {"in", "used", "dropped"}}`` to a table."""
    reasons = sorted({reason for part in rows.values() for reason in part["dropped"]})
    lines = {
        model: {"rows in": part["in"], **{f"dropped: {r}": part["dropped"].get(r, 0) for r in reasons}, "rows used": part["used"]}
        for model, part in rows.items()
    }
    return pd.DataFrame.from_dict(lines, orient="index").rename_axis("model")
