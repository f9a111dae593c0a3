"""The data overview's figures, aggregated by an engine (DuckDB, or Spark) over the validated copy.

At 10 million tickets the overview would otherwise load columns into pandas only to count and
average them. :func:`summarize` asks the engine instead (:mod:`study.engine`), over the copy
``study run`` writes (or over the tickets in memory when a notebook runs on its own), with SQL
that runs unchanged on DuckDB and, translated, on Spark. Sums are exact integer sums
(:func:`study.engine.sources.exact_sum_sql`: outcomes are whole numbers, response times are rounded
to 2**-20 of a minute) and means and variances are formed from them here in exact fractions, so
counts, means and intervals are the same bytes whatever the engine, its thread count or its
partitioning. The response-time quantiles are DuckDB's exact ``quantile_cont``; on Spark, whose exact
``percentile`` gathers every distinct value into one task, they are found from a few scans of histograms
and interpolated as DuckDB interpolates (:mod:`study.engine.quantiles`): the same bytes on both engines.
:mod:`study.data.descriptives` keeps the pandas versions, which the tests use as the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

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
from study.engine import DEFAULT_MASTER
from study.engine.quantiles import quantiles_of
from study.engine.sources import exact_sum_sql, quote

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
_HEADLINE = [
    ("csat_mean", "Mean CSAT of answered surveys (1-5)", "csat"),
    ("survey_response_rate", "Share of tickets with a CSAT answer", "csat_answered"),
    ("repeat_purchase_rate", "Share of tickets followed by a repeat purchase", "repeat_purchase"),
]
# The columns the overview reads and their SQL type: one a data set lacks is read as empty, and the
# figures that need it are skipped with that reason.
_OUTCOMES = ("csat", "repeat_purchase", "resolved")
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


def summarize(data: TicketData, alpha: float = 0.05, bins: int = 60, engine: str = "duckdb",
              spark_master: str = DEFAULT_MASTER, source=None) -> Overview:
    """The overview's figures in a few scans by the chosen engine.

    Parameters
    ----------
    data : TicketData
        From :func:`study.data.dataset.load_tickets`. A prepared copy read with ``needed=[]`` is scanned
        where it lies; otherwise the tickets in memory are (by DuckDB).
    alpha : float
        1 - confidence level of the t intervals (rows treated as independent: descriptive).
    bins : int
        Bins of the response-time histogram, equal widths on the log scale.
    engine : {"duckdb", "spark"}
        Engine that scans the prepared copy (:func:`study.engine.open_source`).
    spark_master : str
        Spark master URL for ``engine="spark"``.
    source : object, optional
        A source to scan instead (``relation``, ``execute``, ``columns``), holding ``data``'s tickets.

    Returns
    -------
    Overview
    """
    if source is None:
        source = _source_of(data, engine, spark_master)
    present = set(source.columns())
    empty = "".join(f", NULL::{kind} AS {quote(name)}" for name, kind in _USED.items() if name not in present)
    tickets = f"(SELECT *{empty} FROM {source.relation}) AS tickets"

    # Spark's quantiles come from histograms (study.engine.quantiles): its own gather every value into one task.
    by_histogram = getattr(source, "quantiles_by_histogram", False)
    # Everything but the distinct customers, the histogram and the group tables in one scan: on Spark each
    # query costs a job. A DISTINCT beside the other aggregates makes Spark shuffle every row with all of
    # them (measured: 34 s instead of 5 + 2 s on a million tickets), so it is a query of its own, and an
    # outcome's single value is found as min = max rather than by counting distinct values.
    parts = {"rows": ["count(*)"], "answered": ["count(csat)"],
             "first": ["min(created_at)"], "last": ["max(created_at)"],
             "over_a_day": ["count(*) FILTER (WHERE first_response_minutes > 1440)"],
             **{f"measured {c}": [f"count({quote(c)})"] for c in MEASURES},
             **{f"range {c}": [f"min({quote(c)})", f"max({quote(c)})"] for c in _OUTCOMES},
             **{f"moments {column}": _moment_sql(column) for _, _, column in _HEADLINE},
             "minutes": ["count(first_response_minutes)", "count(*) - count(first_response_minutes)",
                         exact_sum_sql("first_response_minutes"),
                         *(f"quantile_cont(first_response_minutes, {q})" for q in QUANTILES if not by_histogram)],
             "range": ["min(greatest(first_response_minutes, 1))", "max(greatest(first_response_minutes, 1))"]}
    (row,) = source.execute(f"SELECT {', '.join(e for exprs in parts.values() for e in exprs)} FROM {{relation}}",
                            from_=tickets)
    found, position = {}, 0
    for name, exprs in parts.items():
        found[name] = row[position:position + len(exprs)] if len(exprs) > 1 else row[position]
        position += len(exprs)
    rows, answered, first, last, over_a_day = (found[k] for k in ("rows", "answered", "first", "last", "over_a_day"))
    ((customers,),) = source.execute("SELECT count(DISTINCT customer_id) FROM {relation}", from_=tickets)
    measured = {column: int(found[f"measured {column}"]) for column in MEASURES if column in present}
    # An outcome with one value (a placeholder column, every ticket resolved) has no rate or mean worth an
    # interval and no comparison to draw: it is said once, in words, and left out of the figures.
    constant = {c: found[f"range {c}"][0] for c in _OUTCOMES if measured.get(c) and found[f"range {c}"][0] == found[f"range {c}"][1]}
    usable = {column: n for column, n in measured.items() if column not in constant}
    headline = [_mean_estimate(found[f"moments {column}"], name, label, alpha) for name, label, column in _HEADLINE
                if usable.get("csat" if column == "csat_answered" else column)]
    minutes, (low, high) = found["minutes"], found["range"]
    if by_histogram and minutes[0]:
        minutes = (*minutes, *quantiles_of(source, "first_response_minutes", QUANTILES, from_=tickets))
    if minutes[0]:
        distribution = pd.Series({"count": int(minutes[0]), "missing": int(minutes[1]),
                                  "mean": float(Fraction(minutes[2]) / minutes[0]),
                                  **{f"{q:.0%} quantile": float(value) for q, value in zip(QUANTILES, minutes[3:])}},
                                 name="first_response_minutes")
        headline.append(Estimate("median_first_response_minutes", "Median first response time (minutes)",
                                 float(distribution["50% quantile"]), None, None, None, None, int(minutes[0]), "median",
                                 1 - alpha))
        histogram = _histogram(source, tickets, bins, low, high)
        by_band = _outcomes_by(source, tickets, "response_band", alpha, usable, order=RESPONSE_BANDS)
    else:
        distribution = Skipped("Response times", "the data has no first response time")
        histogram, by_band = distribution, Skipped("Outcomes by response time", "the data has no first response time")
    by_resolution = (_outcomes_by(source, tickets, "resolved", alpha, usable) if usable.get("resolved")
                     else Skipped("Outcomes by resolution", f"every ticket has resolved = {constant['resolved']}"
                                  if "resolved" in constant else "the data has no resolution outcome (resolved)"))
    return Overview(
        int(rows), int(customers) if "customer_id" in present else None, int(answered), _timestamp(first),
        _timestamp(last), int(over_a_day) / int(rows) if minutes[0] else float("nan"), headline, by_band,
        by_resolution, distribution, histogram, data.source, {"alpha": alpha}, measured, dict(data.set_aside),
        constant, {c: note for c, note in data.notes.items() if note.startswith("values look like")},
    )


def _source_of(data: TicketData, engine: str, spark_master: str):
    """The prepared copy in the chosen engine, or the tickets in memory in DuckDB."""
    from study.engine import check_engine, open_source

    check_engine(engine, spark_master)
    if data.prepared is not None:
        return open_source(data.prepared, engine, spark_master)
    if engine != "duckdb":
        raise ValueError(f"engine {engine} scans the validated copy that study run writes; these tickets are in "
                         "memory (run the notebook with study run --engine spark, or load the copy with needed=[])")
    from study.engine.sources import DuckDBSource

    return DuckDBSource(data.tickets)


def _moments(count, total, squares) -> tuple[int, float, float | None]:
    """Count, mean and sample standard deviation from a count and exact sums (None below two values)."""
    n = int(count)
    if n == 0:
        return 0, float("nan"), None
    mean = Fraction(total) / n
    if n < 2:
        return n, float(mean), None
    variance = (Fraction(squares) - Fraction(total) * mean) / (n - 1)
    return n, float(mean), math.sqrt(max(float(variance), 0.0))


def _moment_sql(column: str) -> list[str]:
    """Count, exact sum and exact sum of squares of a column (see :func:`_moments`)."""
    value = f"CAST({quote(column)} AS DOUBLE)"
    return [f"count({quote(column)})", exact_sum_sql(value), exact_sum_sql(f"{value} * {value}")]


def _timestamp(value) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


def _mean_estimate(sums: tuple, name: str, label: str, alpha: float) -> Estimate:
    n, mean, sd = _moments(*sums)
    half = t_half_width(sd, n, alpha)
    return Estimate(name, label, mean, half / critical_value(alpha, max(n - 1, 1)), mean - half, mean + half,
                    None, int(n), "mean, t interval, rows independent", 1 - alpha, interval=Interval(df=max(n - 1, 1)))


def _outcomes_by(source, tickets: str, group: str, alpha: float, measured: dict, order: list | None = None) -> pd.DataFrame:
    """Tickets and each outcome the data has (CSAT, repeat purchase) per value of ``group``."""
    rows = source.execute(
        f"SELECT {quote(group)}, count(*), {', '.join(_moment_sql('csat') + _moment_sql('repeat_purchase'))} "
        f"FROM {{relation}} WHERE {quote(group)} IS NOT NULL GROUP BY 1", from_=tickets)
    rank = {value: i for i, value in enumerate(order)} if order else None
    # Unlisted values after the listed ones, by their text: the same order whatever order the engine returns.
    rows = sorted(rows, key=(lambda row: (rank.get(row[0], len(rank)), str(row[0]))) if rank else (lambda row: row[0]))
    csat = [_moments(*row[2:5]) for row in rows]
    repeat = [_moments(*row[5:8]) for row in rows]
    columns = {"tickets": np.array([int(row[1]) for row in rows], dtype=int)}
    if measured.get("csat"):
        columns.update({
            "csat answers": np.array([n for n, _, _ in csat], dtype=int),
            "csat mean": np.array([mean for _, mean, _ in csat], dtype=float),
            "csat ci half-width": [t_half_width(sd, n, alpha) for n, _, sd in csat],
        })
    if measured.get("repeat_purchase"):
        columns.update({
            "repeat_purchase mean": np.array([mean for _, mean, _ in repeat], dtype=float),
            "repeat_purchase ci half-width": [t_half_width(sd, n, alpha) for n, _, sd in repeat],
        })
    out = pd.DataFrame(columns, index=pd.Index([row[0] for row in rows], name=group, dtype=object))
    out.attrs["ci_level"] = 1 - alpha
    return out


def _double(value: float) -> str:
    """A float as a SQL literal both engines read as the same double (a decimal literal might not be)."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def _histogram(source, tickets: str, bins: int, low: float | None, high: float | None) -> pd.DataFrame:
    """Counts in ``bins`` equal log-width bins from the shortest wait ``low`` to the longest ``high`` (waits under
    a minute count as one)."""
    if low is None:
        return pd.DataFrame({"left": [], "right": [], "tickets": []})
    edges = np.logspace(np.log10(low), np.log10(high), bins + 1) if high > low else np.array([low, low * 1.01])
    log_low, width = np.log10(edges[0]), (np.log10(edges[-1]) - np.log10(edges[0])) / (len(edges) - 1)
    counts = source.execute(
        f"SELECT least(greatest(CAST(floor((log10(greatest(first_response_minutes, 1)) - {_double(log_low)}) / "
        f"{_double(width)}) AS INTEGER), 0), {len(edges) - 2}) AS bin, count(*) FROM {{relation}} "
        "WHERE first_response_minutes IS NOT NULL GROUP BY 1", from_=tickets)
    tickets_per_bin = np.zeros(len(edges) - 1, dtype=int)
    for index, count in counts:
        tickets_per_bin[index] = count
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "tickets": tickets_per_bin})
