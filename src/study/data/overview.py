"""The data overview's figures, aggregated by DuckDB over the validated Parquet copy.

At 10 million tickets the overview would otherwise load columns into pandas only to count and
average them. :func:`summarize` asks DuckDB instead, over the copy ``study run`` writes (or over the
tickets in memory when a notebook runs on its own). :mod:`study.data.descriptives` keeps the pandas
versions, which the tests use as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import duckdb
import numpy as np
import pandas as pd

from study.analyses import OVERVIEW
from study.core.findings import Findings
from study.core.inference import Interval, critical_value
from study.core.results import Estimate, Source
from study.data import findings
from study.data.dataset import TicketData
from study.data.descriptives import t_half_width
from study.data.features import RESPONSE_BANDS

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
_HEADLINE = [
    ("csat_mean", "Mean CSAT of answered surveys (1-5)", "csat"),
    ("survey_response_rate", "Share of tickets with a CSAT answer", "csat_answered"),
    ("repeat_purchase_rate", "Share of tickets followed by a repeat purchase", "repeat_purchase"),
]


@dataclass
class Overview:
    """Counts, means and distributions of a ticket table (see :func:`summarize`).

    Attributes
    ----------
    tickets, customers, answered : int
        Tickets, distinct customers, tickets with a CSAT answer.
    first_opened, last_opened : pandas.Timestamp or None
    over_a_day : float
        Share of tickets whose first reply took more than 24 hours.
    headline : list of Estimate
        Mean CSAT of answered surveys, survey response rate and repeat-purchase rate with t intervals
        that treat tickets as independent (descriptive), and the median first response time.
    by_band, by_resolution : pandas.DataFrame
        Per ``response_band`` / ``resolved`` value: ``tickets``, ``csat answers``, ``csat mean``,
        ``csat ci half-width``, ``repeat_purchase mean``, ``repeat_purchase ci half-width``.
    distribution : pandas.Series
        Count, missing, mean and quantiles of ``first_response_minutes``.
    histogram : pandas.DataFrame
        ``left``, ``right`` (minutes) and ``tickets`` of log-spaced bins of the first response time.
    source : Source
        The data described.
    parameters : dict
        ``{"alpha": ...}``, the level of every interval.
    """

    name: ClassVar[str] = OVERVIEW
    tickets: int
    customers: int
    answered: int
    first_opened: pd.Timestamp | None
    last_opened: pd.Timestamp | None
    over_a_day: float
    headline: list
    by_band: pd.DataFrame
    by_resolution: pd.DataFrame
    distribution: pd.Series
    histogram: pd.DataFrame
    source: Source | None = None
    parameters: dict = field(default_factory=dict)

    @property
    def estimates(self) -> list[Estimate]:
        """The headline facts, for the results file."""
        return self.headline

    @property
    def rows(self) -> dict:
        """Row accounting: every ticket read is described; none is left out."""
        return {"in": self.source.rows, "used": self.tickets, "dropped": {}}

    @property
    def notes(self) -> list[str]:
        return []

    def findings(self, truth: dict | None = None) -> Findings:
        """The overview in words: descriptive, nothing adjusted (``truth`` is not used)."""
        return findings.overview(self)


def summarize(data: TicketData, alpha: float = 0.05, bins: int = 60) -> Overview:
    """The overview's figures in a few DuckDB scans.

    Parameters
    ----------
    data : TicketData
        From :func:`study.data.dataset.load_tickets`. A prepared copy read with ``needed=[]`` is scanned
        where it lies; otherwise the tickets in memory are.
    alpha : float
        1 - confidence level of the t intervals (rows treated as independent: descriptive).
    bins : int
        Bins of the response-time histogram, equal widths on the log scale.

    Returns
    -------
    Overview
    """
    connection = duckdb.connect()
    connection.execute("SET threads TO 1")  # one thread: sums in a fixed order, the same bytes every run
    if data.prepared is not None:
        connection.execute(f"CREATE VIEW tickets AS SELECT * FROM read_parquet('{_sql_text(data.prepared)}')")
    else:
        connection.register("tickets", data.tickets)

    def one(sql: str) -> tuple:
        return connection.execute(sql).fetchone()

    rows, customers, answered, first, last, over_a_day = one(
        "SELECT count(*), count(DISTINCT customer_id), count(csat), min(created_at), max(created_at), "
        "avg(CASE WHEN first_response_minutes > 1440 THEN 1.0 ELSE 0.0 END) FROM tickets")
    headline = [_mean_estimate(connection, name, label, column, alpha) for name, label, column in _HEADLINE]
    minutes = connection.execute(
        "SELECT count(first_response_minutes), count(*) - count(first_response_minutes), avg(first_response_minutes), "
        + ", ".join(f"quantile_cont(first_response_minutes, {q})" for q in QUANTILES) + " FROM tickets").fetchone()
    distribution = pd.Series({"count": int(minutes[0]), "missing": int(minutes[1]), "mean": minutes[2],
                              **{f"{q:.0%} quantile": value for q, value in zip(QUANTILES, minutes[3:])}},
                             name="first_response_minutes")
    headline.append(Estimate("median_first_response_minutes", "Median first response time (minutes)",
                             float(distribution["50% quantile"]), None, None, None, None, int(minutes[0]), "median",
                             1 - alpha))
    return Overview(
        int(rows), int(customers), int(answered), _timestamp(first), _timestamp(last), float(over_a_day or 0.0),
        headline, _outcomes_by(connection, "response_band", alpha, order=RESPONSE_BANDS),
        _outcomes_by(connection, "resolved", alpha), distribution, _histogram(connection, bins),
        data.source, {"alpha": alpha},
    )


def _sql_text(path) -> str:
    return str(path).replace("'", "''")


def _timestamp(value) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


def _mean_estimate(connection, name: str, label: str, column: str, alpha: float) -> Estimate:
    n, mean, sd = connection.execute(
        f'SELECT count("{column}"), avg("{column}"::DOUBLE), stddev_samp("{column}"::DOUBLE) FROM tickets').fetchone()
    mean = float("nan") if mean is None else float(mean)
    half = t_half_width(sd, n, alpha)
    return Estimate(name, label, mean, half / critical_value(alpha, max(n - 1, 1)), mean - half, mean + half,
                    None, int(n), "mean, t interval, rows independent", 1 - alpha, interval=Interval(df=max(n - 1, 1)))


def _outcomes_by(connection, group: str, alpha: float, order: list | None = None) -> pd.DataFrame:
    frame = connection.execute(
        f'SELECT "{group}" AS value, count(*), count(csat), avg(csat::DOUBLE), stddev_samp(csat::DOUBLE), '
        f'count(repeat_purchase), avg(repeat_purchase::DOUBLE), stddev_samp(repeat_purchase::DOUBLE) '
        f'FROM tickets WHERE "{group}" IS NOT NULL GROUP BY 1').df()
    frame["value"] = frame["value"].astype(object)
    rank = {value: i for i, value in enumerate(order)} if order else None
    frame = frame.sort_values("value", key=(lambda v: v.map(rank)) if rank else None).reset_index(drop=True)
    out = pd.DataFrame({
        "tickets": frame.iloc[:, 1].astype(int).to_numpy(),
        "csat answers": frame.iloc[:, 2].astype(int).to_numpy(),
        "csat mean": frame.iloc[:, 3].astype(float).to_numpy(),
        "csat ci half-width": [t_half_width(sd, n, alpha) for sd, n in zip(frame.iloc[:, 4], frame.iloc[:, 2])],
        "repeat_purchase mean": frame.iloc[:, 6].astype(float).to_numpy(),
        "repeat_purchase ci half-width": [t_half_width(sd, n, alpha) for sd, n in zip(frame.iloc[:, 7], frame.iloc[:, 5])],
    }, index=pd.Index(list(frame["value"]), name=group))
    out.attrs["ci_level"] = 1 - alpha
    return out


def _histogram(connection, bins: int) -> pd.DataFrame:
    """Counts in ``bins`` equal log-width bins from the shortest to the longest wait (waits under a minute count as one)."""
    low, high = connection.execute(
        "SELECT min(greatest(first_response_minutes, 1)), max(greatest(first_response_minutes, 1)) FROM tickets").fetchone()
    if low is None:
        return pd.DataFrame({"left": [], "right": [], "tickets": []})
    edges = np.logspace(np.log10(low), np.log10(high), bins + 1) if high > low else np.array([low, low * 1.01])
    log_low, width = np.log10(edges[0]), (np.log10(edges[-1]) - np.log10(edges[0])) / (len(edges) - 1)
    counts = connection.execute(
        "SELECT least(greatest(CAST(floor((log10(greatest(first_response_minutes, 1)) - ?) / ?) AS INTEGER), 0), ?) AS bin, "
        "count(*) FROM tickets WHERE first_response_minutes IS NOT NULL GROUP BY 1",
        [log_low, width, len(edges) - 2]).fetchall()
    tickets = np.zeros(len(edges) - 1, dtype=int)
    for index, count in counts:
        tickets[index] = count
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "tickets": tickets})
