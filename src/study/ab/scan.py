"""A whole A/B analysis of a large table in two scans: the units and the ranges, then every sum.

The first scan checks the one-row-per-unit promise and finds each metric column's range and a centre
for each covariate; the second groups by the arm and every segment column at once, and the coarser
segmentations (whole experiment, by tier, ...) are added up from those groups exactly. When a unit
has several rows, the whole-row rule of :func:`study.ab.relations.unit_rule_sql` runs on the rows
of such units only (:func:`study.ab.unit_checks.repeated_checks`), and the sums on the rows kept.

The unit check. An integer unit ``u`` is put in bucket ``u >> 5`` at bit ``u & 31``: per bucket,
the number of rows equals the number of bits set (``BIT_OR``, then ``BIT_COUNT``) exactly when no
unit of the bucket appears twice. Dense identifiers (0, 1, 2, ...) thus need 32 times fewer groups
than units; sparse ones as many as a ``GROUP BY unit``, which other unit types use. Exact, never a
sketch. A Parquet file's ranges come from its statistics and its covariates' centres from its first
65,536 rows, so this scan reads little more than the unit and the arm (exact means of every row
cost 0.7 s more on 10 million units, half the scan).

Sums that are the same bytes on any number of threads. Measured on 10 million units, 2 cores
shared with other work: the benchmark's 20 sums, whole experiment and by tier, the same statement
but for the sums, five runs alternating in one process (medians, load 9-11), or as noted:

- plain ``SUM`` of doubles: 1.99 s, but its last digits change with the thread count and the run
  (six runs on 1 to 8 threads gave six different sums);
- DuckDB's compensated ``fsum``: 1.6 times plain (load 5-7), not byte-identical either (2 in 6 runs);
- ``DECIMAL(18, 4)`` / ``DECIMAL(38, 9)`` casts: 4 and 13 times plain (19 sums, load 5-7);
- integer sums, ``SUM(CAST(term * 2**k AS BIGINT))`` (:func:`study.engine.sources.integer_sum_sql`),
  ``k`` from the first scan's ranges so that no row's term exceeds 2**62 steps: exact and
  order-independent on any engine (Spark too), as accurate as pandas against exact rationals; 4.58 s,
  2.3 times plain (the casts and the 128-bit accumulators);
- a fixed partitioning, for a Parquet file read by DuckDB: plain sums per row group (DuckDB reads a
  row group in one thread, in file order, so each partial is reproducible), the partials then added
  exactly in Python: 1.92 s, the cost of plain ``SUM``. Its error is a plain double sum's over one row
  group (about rows per group x 2**-53 x the largest term): on a file sorted by a heavy-tailed column,
  a sum may be a few units in the 13th digit off where pandas' pairwise sum is in the 15th; far inside
  what any statistic here reports, and the same bytes every run.

Chosen: the fixed partitioning for Parquet files (the large case; checked on 1, 2, 3 and 8 threads
by the tests, so an engine upgrade that broke it would fail them), integer sums for everything else
(frames, tables, CSV, Spark).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from study.ab.relations import (
    Aggregates,
    _plain,
    _sort_key,
    integer_sum_sql,
    quote,
)
from study.ab.sufficient import CovariateMoments, Metric, rounded_origin
from study.engine.sources import within_memory

# The largest count of steps one row's term may become.
_BUDGET = 2.0**62
# Steps below 2**-(this) are refused: their inverse, a multiplier in the SQL, must be a finite double.
_EXPONENTS = 1000
# Rows at the start of a Parquet file whose covariate means centre the sums (see first_scan).
SAMPLE = 65_536
# DuckDB's memory limit during the scans (see lean).
MEMORY_CAP = "256MB"
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "INT", "LONG",
                  "SHORT", "BYTE")


@dataclass(frozen=True)
class FirstScan:
    """What the first scan found.

    Attributes
    ----------
    rows, rows_without_arm, rows_without_unit : int
        ``rows_without_unit`` counts rows with an arm but no unit.
    rows_kept : int
        Rows with an arm (and a unit, when one is checked).
    units : int or None
        Distinct units among the kept rows; ``None`` when no unit was checked.
    ranges : dict
        Column -> (min, max) as doubles: of the kept rows, or wider (a Parquet file's statistics).
    centres : dict
        Covariate metric name -> the point its sums are taken about in the second scan: the rounded
        means of all kept rows, or of a Parquet file's first rows.
    """

    rows: int
    rows_without_arm: int
    rows_without_unit: int
    rows_kept: int
    units: int | None
    ranges: dict
    centres: dict

    @property
    def one_row_per_unit(self) -> bool:
        return self.units is None or self.units == self.rows_kept


def _unit_type(src, unit: str) -> str:
    types = getattr(src, "column_types", None)
    return str(types().get(unit, "")).upper().split("(")[0] if types else ""


def buckets(src, unit: str) -> tuple[str, str]:
    """The unit check's bucket and bit of a row (module docstring)."""
    u = quote(unit)
    if _unit_type(src, unit) in _INTEGER_TYPES:
        return f"{u} >> 5", f"CAST(1 AS BIGINT) << CAST({u} & 31 AS INTEGER)"
    return u, "CAST(1 AS BIGINT)"


def first_scan(src, relation: str, arm: str, metrics: Sequence[Metric] = (), unit: str | None = None) -> FirstScan:
    """Counts, the unit check and each metric column's range over ``relation``, in one statement.

    Parameters
    ----------
    src : source
        Runs the SQL (``execute(select, from_=relation)``); a ``column_ranges(columns)`` method, when
        it has one, gives the ranges without a scan.
    relation : str
        What to read: the source's relation or a subquery of it.
    arm : str
    metrics : sequence of Metric
    unit : str, optional
        Unit column to check; without it rows need only an arm.

    Returns
    -------
    FirstScan
    """
    a = quote(arm)
    kept = f"{a} IS NOT NULL" + (f" AND {quote(unit)} IS NOT NULL" if unit else "")
    if unit is not None:
        u = quote(unit)
        bucket, bit = buckets(src, unit)
        parts = [(f"(SELECT SUM(n) AS n, SUM(no_arm) AS no_arm, SUM(no_unit) AS no_unit, SUM(kept) AS kept, "
                 f"COALESCE(SUM(BIT_COUNT(bits)), 0) AS units FROM (SELECT {bucket} AS bucket, COUNT(*) AS n, "
                 f"COUNT(*) FILTER (WHERE {a} IS NULL) AS no_arm, COUNT(*) FILTER (WHERE {a} IS NOT NULL AND {u} IS NULL) "
                 f"AS no_unit, COUNT(*) FILTER (WHERE {kept}) AS kept, BIT_OR({bit}) FILTER (WHERE {kept}) AS bits "
                 f"FROM {{relation}} GROUP BY {bucket}) AS buckets) AS units")]
    else:
        parts = [(f"(SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE {a} IS NULL) AS no_arm, 0 AS no_unit, "
                 f"COUNT(*) FILTER (WHERE {kept}) AS kept, 0 AS units FROM {{relation}}) AS units")]
    columns = list(dict.fromkeys(c for m in metrics for c in m.columns))
    covariates = [m for m in metrics if m.statistics is CovariateMoments]
    known = getattr(src, "column_statistics", lambda _: None)(columns) if relation == src.relation else None
    blocks = getattr(src, "row_groups", lambda: None)() if known is not None and covariates else None
    if known is None and columns:
        selects = [f"{f}(CAST({quote(c)} AS DOUBLE)) FILTER (WHERE {kept})" for c in columns for f in ("MIN", "MAX")]
        parts.append(f"(SELECT {', '.join(selects)} FROM {{relation}}) AS ranges")
    elif blocks is not None:
        # The covariates' means over the file's first rows only (DuckDB reads just those): a centre
        # for the sums, not the origin (see second_scan).
        parts.append(_means_sql(covariates, known[1], kept, blocks[0], f"file_row_number < {SAMPLE}"))
    (row,) = src.execute(f"SELECT * FROM {', '.join(parts)}", from_=relation)
    n, no_arm, no_unit, kept_rows, units = (int(v or 0) for v in row[:5])
    ranges = known[1] if known is not None else {c: (row[5 + 2 * i], row[6 + 2 * i]) for i, c in enumerate(columns)}
    _check_finite(ranges)
    if blocks is not None:
        means = row[5:]
    elif covariates:
        (means,) = src.execute(f"SELECT * FROM {_means_sql(covariates, ranges, kept)}", from_=relation)
    centres = {}
    for i, metric in enumerate(covariates):
        count, sums = means[3 * i], means[3 * i + 1:3 * i + 3]
        steps = [_step(_bound(ranges[c], 0.0), (c,)) for c in metric.columns]
        centres[metric.name] = tuple(rounded_origin(float(Fraction(int(v)) * Fraction(t) / count)) if count else 0.0
                                     for v, t in zip(sums, steps))
    return FirstScan(n, no_arm, no_unit, kept_rows, units if unit is not None else None, ranges, centres)


def _check_finite(ranges: dict) -> None:
    for c, (low, high) in ranges.items():
        if low is not None and not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"column '{c}' holds infinite or NaN values: its sums are undefined")


def _bound(limits: tuple, origin: float) -> float:
    low, high = limits
    return 0.0 if low is None else max(abs(low - origin), abs(high - origin))


def _means_sql(covariates: Sequence[Metric], ranges: dict, kept: str, relation: str = "{relation}",
               where: str | None = None) -> str:
    """Exact sums (and counts) of covariate metrics' columns, for centres that do not depend on the threads."""
    selects = []
    for metric in covariates:
        present = " AND ".join([kept, *(f"{quote(c)} IS NOT NULL" for c in metric.columns)])
        selects.append(f"COUNT(*) FILTER (WHERE {present})")
        selects += [integer_sum_sql(f"CAST({quote(c)} AS DOUBLE)", _step(_bound(ranges[c], 0.0), (c,)), present)
                    for c in metric.columns]
    return f"(SELECT {', '.join(selects)} FROM {relation}{f' WHERE {where}' if where else ''}) AS means"


def _shift(sums: dict, by: tuple) -> dict:
    """Sums of ``x**i * y**j`` (keyed ``(i, j)``, ``(0, 0)`` the count) about ``p`` -> about ``o``, exactly.

    ``by`` is ``p - o``; ``(x - o) = (x - p) + (p - o)``, expanded by the binomial theorem.
    """
    dx, dy = by
    return {(a, b): sum(math.comb(a, i) * math.comb(b, j) * dx ** (a - i) * dy ** (b - j) * sums[(i, j)]
                        for i in range(a + 1) for j in range(b + 1)) for (a, b) in sums}


def _step(bound: float | list[tuple[float, int]], columns: Sequence[str] = (), power: int = 1) -> float:
    """The power of two a term is rounded to: the finest that keeps every row's count of steps under 2**62.

    The bound is doubled: a Parquet file's statistics may be printed rounded. The sum of the counts
    may pass 2**63: DuckDB sums BIGINT into HUGEINT, and Spark needs the sum widened to DECIMAL(38, 0)
    (which :func:`study.engine.dialect.to_spark` does). ``bound`` may be given as a list of
    ``(bound, power)`` pairs (a product of powers of columns' bounds), taken in logarithms so that it
    cannot overflow.

    Raises
    ------
    ValueError
        Naming ``columns``, when a term overflows a double or is too small for its step to be one.
    """
    pairs = bound if isinstance(bound, list) else [(bound, power)]
    if any(b == 0 for b, p in pairs if p):
        return 1.0
    exponent = math.ceil(1 + sum(p * math.log2(b) for b, p in pairs if p) - math.log2(_BUDGET))
    if not -_EXPONENTS <= exponent < 1023 - 62:
        largest = max(b for b, _ in pairs)
        size = "large" if exponent > 0 else "small"
        raise ValueError(f"column(s) {', '.join(repr(c) for c in columns) or 'of a metric'} hold values up to "
                         f"{largest:.3g}: too {size} for their sums of squares in double precision; rescale them (another unit)")
    return 2.0 ** exponent


def _literal(value: float) -> str:
    """A double literal both DuckDB and Spark read as a double (an exponent, never a bare decimal)."""
    return f"{value:.17e}"


def second_scan(src, relation: str, metrics: Sequence[Metric], arm: str, segmentations: Sequence[Sequence[str]],
                first: FirstScan, unit: str | None = None, centres: dict | None = None) -> list[Aggregates]:
    """Sufficient statistics of every segmentation from one scan, with exact sums.

    The scan groups by the arm and every segment column at once; coarser segmentations (the whole
    experiment, one of several columns) are added up from those groups in exact integer arithmetic.
    A covariate metric's sums are taken about the first scan's centres, then moved exactly to the
    origin :class:`study.ab.sufficient.CovariateMoments` documents (the rounded means of all rows).
    A centre more than a standard deviation away from the origin (a file sorted by the covariate)
    would cost digits in the move: the scan is then run again about the origin.

    Parameters
    ----------
    src : source
    relation : str
    metrics : sequence of Metric
    arm : str
    segmentations : sequence of sequences of str
        E.g. ``[(), ("tier",)]``: the whole experiment and by tier.
    first : FirstScan
        Ranges of the same rows.
    unit : str, optional
        When given, rows without a unit are left out too.
    centres : dict, optional
        Instead of the first scan's centres.

    Returns
    -------
    list of Aggregates
        One per segmentation, in order.
    """
    segmentations = [tuple(s) for s in segmentations]
    columns = list(dict.fromkeys(c for s in segmentations for c in s))
    a = quote(arm)
    keys = [f"{a} AS arm_value", *(f"{quote(c)} AS segment_{i}" for i, c in enumerate(columns))]
    # Inside: each metric's columns as doubles about their origin, NULL unless all of the metric's
    # columns are present (so that every sum and count skips the same rows); outside: the sums.
    # A Parquet file read by DuckDB is summed per row group instead: plain double sums, each row group's
    # rows added in file order by the one thread that reads it, so each partial is reproducible;
    # the partials are then added exactly. Any other source gets integer sums (module docstring).
    blocks = getattr(src, "row_groups", lambda: None)() if relation == src.relation else None
    if blocks is not None:
        keys.append(f"file_row_number // {int(blocks[1])} AS row_group")
    inner, selects, layout = list(keys), ["arm_value", *(f"segment_{i}" for i in range(len(columns))), "COUNT(*)"], []
    scales = [None]  # per value after the keys: None for a count, the step of an integer sum, or 0 for a double sum
    for m, metric in enumerate(metrics):
        about = (centres or first.centres).get(metric.name, (0.0,) * len(metric.columns))
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in metric.columns)
        names, bounds = [], []
        for j, (c, o) in enumerate(zip(metric.columns, about)):
            value = f"CAST({quote(c)} AS DOUBLE)" + (f" - {_literal(o)}" if o else "")
            inner.append(f"CASE WHEN {present} THEN {value} END AS m{m}_{j}")
            names.append(f"m{m}_{j}")
            bounds.append(_bound(first.ranges[c], o))
        selects.append(f"COUNT({names[0]})")
        scales.append(None)
        for powers in metric.statistics.TERMS.values():
            product = " * ".join(c for c, p in zip(names, powers) for _ in range(p))
            if blocks:
                selects.append(f"COALESCE(SUM({product}), 0)")
                scales.append(0)
            else:
                step = _step(list(zip(bounds, powers)), metric.columns)
                selects.append(f"COALESCE({integer_sum_sql(product, step)}, 0)")
                scales.append(Fraction(step))
        layout.append((metric, about, len(metric.statistics.TERMS)))
    where = f"{a} IS NOT NULL" + (f" AND {quote(unit)} IS NOT NULL" if unit else "")
    group = ", ".join(["arm_value", *(f"segment_{i}" for i in range(len(columns))), *(["row_group"] if blocks else [])])
    found = src.execute(f"SELECT {', '.join(selects)} FROM (SELECT {', '.join(inner)} FROM {{relation}} WHERE {where}) "
                        f"AS metric_values GROUP BY {group}", from_=blocks[0] if blocks else relation)
    # Every partial as an exact rational (an integer count of steps times the step, or a double),
    # so that adding partials up is exact and the order of the rows returned does not matter.
    rows = [(str(r[0]), tuple(_plain(v) for v in r[1:1 + len(columns)]),
             [int(v) if t is None else Fraction(float(v)) if t == 0 else Fraction(int(v)) * t
              for v, t in zip(r[1 + len(columns):], scales)]) for r in found]

    def total(selected) -> list:
        return [sum(values) for values in zip(*selected)] if selected else [0] * (len(selects) - 1 - len(columns))

    # The origin of a covariate metric: its columns' rounded means over every row, from the exact sums.
    origins, everything, position = {}, total([r[2] for r in rows]), 1
    for metric, about, width in layout:
        if metric.statistics is CovariateMoments:
            n, sums = everything[position], dict(zip(metric.statistics.TERMS.values(), everything[position + 1:]))
            origins[metric.name] = tuple(rounded_origin(float(Fraction(p) + sums[key] / n)) if n else 0.0
                                         for p, key in zip(about, ((1, 0), (0, 1))))
            far = [(Fraction(o) - Fraction(p)) ** 2 > sums[(2 * i, 2 * j)] / n - (sums[(i, j)] / n) ** 2
                   for o, p, (i, j) in zip(origins[metric.name], about, ((1, 0), (0, 1)))] if n else []
            if any(far) and centres is None:
                return second_scan(src, relation, metrics, arm, segmentations, first, unit, centres=origins)
        position += 1 + width

    results = []
    for segments in segmentations:
        index = [columns.index(c) for c in segments]
        # One pass over the groups (exact rationals: the order of adding does not matter).
        grouped: dict = {}
        for arm_value, segment_values, values in rows:
            key = (tuple(segment_values[i] for i in index), arm_value)
            before = grouped.get(key)
            grouped[key] = values if before is None else [x + y for x, y in zip(before, values)]
        stats, units = {}, {}
        for segment, arm_value in sorted(grouped, key=lambda k: (_sort_key(k[0]), k[1])):
            values = grouped[(segment, arm_value)]
            units[(segment, arm_value)] = values[0]
            position = 1
            for metric, about, width in layout:
                n, sums = values[position], values[position + 1:position + 1 + width]
                exact, extra = dict(zip(metric.statistics.TERMS, sums)), {}
                if metric.name in origins:
                    powers = metric.statistics.TERMS
                    by = tuple(Fraction(p) - Fraction(o) for p, o in zip(about, origins[metric.name]))
                    moved = _shift({powers[k]: v for k, v in exact.items()} | {(0, 0): Fraction(n)}, by)
                    exact, extra = {k: moved[powers[k]] for k in exact}, {"origin": origins[metric.name]}
                # Exact rationals: float() rounds each sum once.
                stats[(segment, arm_value, metric.name)] = metric.statistics(
                    n, **{k: float(v) for k, v in exact.items()}, **extra)
                position += 1 + width
        results.append(Aggregates(arm, segments, tuple(metrics), stats, units))
    return results


def lean(src, function, *args):
    """``function(src, *args)`` under a low DuckDB memory limit, or without one if it does not fit.

    The scans keep few groups, yet DuckDB, left alone, holds on to hundreds of MB of buffers while
    reading a large Parquet file; capped, it reads as fast in a fraction of the memory. Spilling to
    disk is switched off while capped (nothing is written), and a scan that needs more memory (many
    sparse units, many segments) is run again uncapped. Only a connection the source opened itself
    is capped (then restored); any other source runs as it is (:func:`study.engine.sources.within_memory`).
    """
    return within_memory(src, lambda: function(src, *args), limit=MEMORY_CAP, spill=False)
