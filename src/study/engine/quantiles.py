"""Exact quantiles of a column in a few scans that hold only a histogram, on any engine.

An engine's exact quantile (DuckDB's ``quantile_cont``, Spark's ``percentile``) holds every distinct value of
the column in one place: on Spark one task gathers them all, which a billion response times would not fit.
Here the order statistics a quantile needs are found by narrowing: a scan counts the values in
:data:`BUCKETS` equal buckets of the range still open, keeping each bucket's smallest and largest value; the
bucket holding a wanted rank becomes the next range, bounded by those two values (the buckets are monotone
in the value, so every value between them is in that bucket). Once a range holds at most
:data:`FEW_ROWS` values, or a single value, its values are counted one by one and the order statistic read
off. Each scan returns at most :data:`BUCKETS` rows for each wanted rank, and about three scans suffice for
data that is not piled up in a narrow range.

The quantile is then interpolated as DuckDB's ``quantile_cont`` interpolates between the order statistics at
``floor`` and ``ceil`` of ``(n - 1) * q`` (:func:`_between`): the same bytes as DuckDB's, on either engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from study.engine.sources import quote

# Buckets a scan counts the open range in: enough that a range of a few million values narrows to
# a few hundred in one scan, few enough that a scan's result is small.
BUCKETS = 4096
# A range holding at most this many values is read as value-count pairs (at most as many rows).
FEW_ROWS = 50_000
# Each narrowing divides the range by BUCKETS; a double's 64 bits are spent after this many.
MOST_SCANS = 8


def _literal(value: float) -> str:
    """A double as SQL that both engines read to the same bits."""
    return f"CAST('{value!r}' AS DOUBLE)"


def exact_quantiles(source, column: str, quantiles: Sequence[float], from_: str | None = None) -> list[float] | None:
    """DuckDB's ``quantile_cont`` of ``column`` at each of ``quantiles``, from scans that hold only histograms.

    Parameters
    ----------
    source : source
        A :class:`study.engine.sources.DuckDBSource`, :class:`study.engine.spark.SparkSource` or anything with
        their ``execute(select, *, from_=None)``.
    column : str
        A numeric column; missing values are left out.
    quantiles : sequence of float
        Each in [0, 1].
    from_ : str, optional
        The relation to read instead of the source's own (as for ``execute``).

    Returns
    -------
    list of float or None
        The quantiles in the order asked; NaN each when the column has no value. ``None`` when the column holds
        NaN or an infinity, which DuckDB orders after every number: the caller asks the engine itself.
    """
    x = quote(column)
    ((count, low, high, odd),) = source.execute(
        f"SELECT count({x}), min({x}), max({x}), count(*) FILTER (WHERE isnan({x}) OR isinf({x})) "
        f"FROM {{relation}}", from_=from_)
    if odd:
        return None
    count = int(count)
    if not count:
        return [math.nan for _ in quantiles]
    positions = [(count - 1) * float(q) for q in quantiles]
    ranks = sorted({r for p in positions for r in (math.floor(p), math.ceil(p))})
    values = _order_statistics(source, x, ranks, float(low), float(high), count, from_)
    found = []
    for position in positions:
        lower, upper = values[math.floor(position)], values[math.ceil(position)]
        found.append(lower if math.floor(position) == math.ceil(position) else _between(lower, upper, position - math.floor(position)))
    return found


def quantiles_of(source, column: str, quantiles: Sequence[float], from_: str | None = None) -> list[float]:
    """:func:`exact_quantiles`, or the engine's own ``quantile_cont`` when the column holds a NaN or an infinity."""
    found = exact_quantiles(source, column, quantiles, from_=from_)
    if found is None:
        (found,) = source.execute("SELECT " + ", ".join(f"quantile_cont({quote(column)}, {q})" for q in quantiles)
                                  + " FROM {relation}", from_=from_)
    return list(found)


def _between(lower: float, upper: float, d: float) -> float:
    """DuckDB's interpolation of doubles, ``lower * (1 - d) + upper * d``, as its build on x86-64 rounds it: the
    product ``upper * d`` rounded, then added to ``lower * (1 - d)`` with one rounding (a fused multiply-add).
    Exact fractions round once, to the nearest double."""
    return float(Fraction(lower) * Fraction(1.0 - d) + Fraction(upper * d))


def _order_statistics(source, x: str, ranks: list[int], low: float, high: float, count: int,
                      from_: str | None) -> dict[int, float]:
    """The value at each of ``ranks`` (0-based, ascending order) of the ``count`` values in ``[low, high]``."""
    # Each open range: (low, high, values below it, values in it) -> the ranks it holds.
    open_ranges = {(low, high, 0, count): list(ranks)}
    small: dict = {}
    for _ in range(MOST_SCANS):
        small |= {key: wanted for key, wanted in open_ranges.items() if key[3] <= FEW_ROWS or key[0] == key[1]}
        open_ranges = _narrowed(source, x, {k: v for k, v in open_ranges.items() if k not in small}, from_)
        if not open_ranges:
            break
    small |= open_ranges  # piled up beyond what halving a double can split: read as they are
    return _read_off(source, x, small, from_)


def _read_off(source, x: str, ranges: dict, from_: str | None) -> dict[int, float]:
    """The values at the wanted ranks of ``ranges`` (as in :func:`_order_statistics`), from one scan of the value-count
    pairs inside them; a range of a single value needs none."""
    found = {rank: lo for (lo, hi, _, _), wanted in ranges.items() if lo == hi for rank in wanted}
    spread = sorted((key, wanted) for key, wanted in ranges.items() if key[0] != key[1])
    if not spread:
        return found
    inside = " OR ".join(f"({x} >= {_literal(lo)} AND {x} <= {_literal(hi)})" for (lo, hi, _, _), _ in spread)
    pairs = iter(source.execute(f"SELECT {x}, count(*) FROM {{relation}} WHERE {inside} GROUP BY {x} ORDER BY {x}",
                                from_=from_))
    for (_, _, below, n), wanted in spread:  # the ranges are disjoint: each takes its pairs in turn
        pending, seen = sorted(wanted), below
        while seen < below + n:
            value, times = next(pairs)
            seen += int(times)
            while pending and pending[0] < seen:
                found[pending.pop(0)] = float(value)
    return found


def _narrowed(source, x: str, ranges: dict, from_: str | None) -> dict:
    """One scan counting each range of ``ranges`` in :data:`BUCKETS` buckets; the buckets holding a wanted rank."""
    if not ranges:
        return {}
    keys = list(ranges)
    which = " ".join(f"WHEN {x} >= {_literal(lo)} AND {x} <= {_literal(hi)} THEN {i}" for i, (lo, hi, _, _) in enumerate(keys))
    bucket = " ".join(f"WHEN {i} THEN floor((v - {_literal(lo)}) / {_literal((hi - lo) / BUCKETS)})"
                      for i, (lo, hi, _, _) in enumerate(keys))
    rows = source.execute(
        f"SELECT part, bucket, count(*), min(v), max(v) FROM (SELECT part, CASE part {bucket} END AS bucket, v FROM "
        f"(SELECT CASE {which} END AS part, {x} AS v FROM {{relation}} WHERE {x} IS NOT NULL) AS parted "
        f"WHERE part IS NOT NULL) AS bucketed GROUP BY part, bucket ORDER BY part, bucket", from_=from_)
    buckets: dict[int, list] = {}  # each range's buckets, in the order of their values
    for part, _, n, lo, hi in rows:
        buckets.setdefault(int(part), []).append((int(n), float(lo), float(hi)))
    narrowed = {}
    for i, key in enumerate(keys):
        seen = key[2]
        for n, lo, hi in buckets.get(i, []):
            inside = [rank for rank in sorted(ranges[key]) if seen <= rank < seen + n]
            if inside:
                narrowed[(lo, hi, seen, n)] = inside
            seen += n
    return narrowed
