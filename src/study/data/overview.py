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
from study.core.results import Estimate, Skipped, Source
from study.data import findings
from study.data.dataset import TicketData
from study.data.descriptives import MEASURES, t_half_width
from study.data.features import RESPONSE_BANDS

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
_HEADLINE = [
    ("csat_mean", "Mean CSAT of answered surveys (1-5)", "csat"),
    ("survey_response_rate", "Share of tickets with a CSAT answer", "csat_answered"),
    ("repeat_purchase_rate", "Share of tickets followed by a repeat purchase", "repeat_purchase"),
]
# The columns the overview reads and their SQL type: one a data set lacks is read as empty, and the
# figures that need it are skipped with that reason.
_USED = {"customer_id": "VARCHAR", "created_at": "TIMESTAMP", "first_response_minutes": "DOUBLE",
         "response_band": "VARCHAR", "resolved": "BOOLEAN", "csat": "DOUBLE", "csat_answered": "BOOLEAN",
         "repeat_purchase": "BOOLEAN"}


@dataclass
class Overview:
    """Counts, means and distributions of a ticket table (see :func:`summarize`).

    Attributes
    ----------
    tickets, answered : int
        Tickets, tickets with a CSAT answer.
    customers : int or None
        Distinct customers (None without a ``customer_id``).
    first_opened, last_opened : pandas.Timestamp or None
    over_a_day : float
        Share of tickets whose first reply took more than 24 hours.
    headline : list of Estimate
        Mean CSAT of answered surveys, survey response rate and repeat-purchase rate with t intervals
        that treat tickets as independent (descriptive), and the median first response time; each only
        when the data has values for it.
    by_band, by_resolution : pandas.DataFrame or Skipped
        Per ``response_band`` / ``resolved`` value: ``tickets``, and for each outcome the data has,
        ``csat answers``, ``csat mean``, ``csat ci half-width``, ``repeat_purchase mean``,
        ``repeat_purchase ci half-width``.
    distribution : pandas.Series or Skipped
        Count, missing, mean and quantiles of ``first_response_minutes``.
    histogram : pandas.DataFrame or Skipped
        ``left``, ``right`` (minutes) and ``tickets`` of log-spaced bins of the first response time.
    measured : dict
        Contract column -> tickets with a value of it, for the measures of :data:`MEASURES` the data has.
    set_aside : dict
        Rows of the source left out before the overview (reason -> count), e.g. by a column map's filter.
    constant : dict
        Outcome column (``csat``, ``repeat_purchase``, ``resolved``) -> its one value, for those without
        variation: they have no headline estimate and no column in the outcomes-by-group tables.
    doubts : dict
        Column -> a doubt about how its values were read (durations that look like another unit), from
        the validation notes: the findings say it, since every figure in minutes would be off.
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
    measured: dict = field(default_factory=dict)
    set_aside: dict = field(default_factory=dict)
    constant: dict = field(default_factory=dict)
    doubts: dict = field(default_factory=dict)

    @property
    def estimates(self) -> list[Estimate]:
        """The headline facts, for the results file."""
        return self.headline

    @property
    def rows(self) -> dict:
        """Row accounting: every ticket kept is described; rows set aside before (a filter) are counted."""
        dropped = {reason: n for reason, n in self.set_aside.items() if n}
        return {"in": self.tickets + sum(dropped.values()), "used": self.tickets, "dropped": dropped}

    @property
    def notes(self) -> list[str]:
        return []

    def has(self, part: str) -> bool:
        """Whether the part named ``part`` (``by_band``, ``histogram``, ...) was computed, not skipped."""
        return not isinstance(getattr(self, part), Skipped)

    def plottable(self, part: str) -> bool:
        """Whether the outcomes-by-group table ``part`` was computed and holds an outcome to draw."""
        table = getattr(self, part)
        return self.has(part) and any(c in table.columns for c in ("csat mean", "repeat_purchase mean"))

    def response_times(self) -> pd.DataFrame | Skipped:
        """The distribution of the first response time as a one-row table (or why it is skipped)."""
        return self.distribution.to_frame().T if self.has("distribution") else self.distribution

    def row_accounting(self) -> pd.DataFrame:
        """Rows read, set aside, kept, and how many have each measure (and so enter its figures)."""
        from study.data.descriptives import row_accounting

        return row_accounting(self.tickets, self.source.rows if self.source else self.tickets, self.measured,
                              self.set_aside)

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
        import pyarrow.parquet as pq

        present = set(pq.read_schema(data.prepared).names)
        connection.execute(f"CREATE VIEW source AS SELECT * FROM read_parquet('{_sql_text(data.prepared)}')")
    else:
        present = set(data.tickets.columns)
        connection.register("source", data.tickets)
    empty = [f'NULL::{kind} AS "{name}"' for name, kind in _USED.items() if name not in present]
    connection.execute("CREATE VIEW tickets AS SELECT *" + "".join(f", {c}" for c in empty) + " FROM source")

    def one(sql: str) -> tuple:
        return connection.execute(sql).fetchone()

    rows, customers, answered, first, last, over_a_day = one(
        "SELECT count(*), count(DISTINCT customer_id), count(csat), min(created_at), max(created_at), "
        "avg(CASE WHEN first_response_minutes > 1440 THEN 1.0 ELSE 0.0 END) FROM tickets")
    measured = dict(zip(MEASURES, one("SELECT " + ", ".join(f'count("{c}")' for c in MEASURES) + " FROM tickets")))
    measured = {column: int(n) for column, n in measured.items() if column in present}
    # An outcome with one value (a placeholder column, every ticket resolved) has no rate or mean worth an
    # interval and no comparison to draw: it is said once, in words, and left out of the figures.
    constant = {}
    for column in (c for c in ("csat", "repeat_purchase", "resolved") if measured.get(c)):
        distinct, value = one(f'SELECT count(DISTINCT "{column}"), any_value("{column}") FROM tickets')
        if distinct == 1:
            constant[column] = value
    usable = {column: n for column, n in measured.items() if column not in constant}
    headline = [_mean_estimate(connection, name, label, column, alpha) for name, label, column in _HEADLINE
                if usable.get("csat" if column == "csat_answered" else column)]
    minutes = connection.execute(
        "SELECT count(first_response_minutes), count(*) - count(first_response_minutes), avg(first_response_minutes), "
        + ", ".join(f"quantile_cont(first_response_minutes, {q})" for q in QUANTILES) + " FROM tickets").fetchone()
    if minutes[0]:
        distribution = pd.Series({"count": int(minutes[0]), "missing": int(minutes[1]), "mean": minutes[2],
                                  **{f"{q:.0%} quantile": value for q, value in zip(QUANTILES, minutes[3:])}},
                                 name="first_response_minutes")
        headline.append(Estimate("median_first_response_minutes", "Median first response time (minutes)",
                                 float(distribution["50% quantile"]), None, None, None, None, int(minutes[0]), "median",
                                 1 - alpha))
        histogram, by_band = _histogram(connection, bins), _outcomes_by(connection, "response_band", alpha, usable,
                                                                        order=RESPONSE_BANDS)
    else:
        distribution = Skipped("Response times", "the data has no first response time")
        histogram, by_band = distribution, Skipped("Outcomes by response time", "the data has no first response time")
    by_resolution = (_outcomes_by(connection, "resolved", alpha, usable) if usable.get("resolved")
                     else Skipped("Outcomes by resolution", f"every ticket has resolved = {constant['resolved']}"
                                  if "resolved" in constant else "the data has no resolution outcome (resolved)"))
    return Overview(
        int(rows), int(customers) if "customer_id" in present else None, int(answered), _timestamp(first),
        _timestamp(last), float(over_a_day or 0.0) if minutes[0] else float("nan"), headline, by_band,
        by_resolution, distribution, histogram, data.source, {"alpha": alpha}, measured, dict(data.set_aside),
        constant, {c: note for c, note in data.notes.items() if note.startswith("values look like")},
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


def _outcomes_by(connection, group: str, alpha: float, measured: dict, order: list | None = None) -> pd.DataFrame:
    """Tickets and each outcome the data has (CSAT, repeat purchase) per value of ``group``."""
    frame = connection.execute(
        f'SELECT "{group}" AS value, count(*), count(csat), avg(csat::DOUBLE), stddev_samp(csat::DOUBLE), '
        f'count(repeat_purchase), avg(repeat_purchase::DOUBLE), stddev_samp(repeat_purchase::DOUBLE) '
        f'FROM tickets WHERE "{group}" IS NOT NULL GROUP BY 1').df()
    frame["value"] = frame["value"].astype(object)
    rank = {value: i for i, value in enumerate(order)} if order else None
    frame = frame.sort_values("value", key=(lambda v: v.map(rank)) if rank else None).reset_index(drop=True)
    columns = {"tickets": frame.iloc[:, 1].astype(int).to_numpy()}
    if measured.get("csat"):
        columns.update({
            "csat answers": frame.iloc[:, 2].astype(int).to_numpy(),
            "csat mean": frame.iloc[:, 3].astype(float).to_numpy(),
            "csat ci half-width": [t_half_width(sd, n, alpha) for sd, n in zip(frame.iloc[:, 4], frame.iloc[:, 2])],
        })
    if measured.get("repeat_purchase"):
        columns.update({
            "repeat_purchase mean": frame.iloc[:, 6].astype(float).to_numpy(),
            "repeat_purchase ci half-width": [t_half_width(sd, n, alpha) for sd, n in zip(frame.iloc[:, 7], frame.iloc[:, 5])],
        })
    out = pd.DataFrame(columns, index=pd.Index(list(frame["value"]), name=group))
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
