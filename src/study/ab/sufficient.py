"""Sufficient statistics of one arm: the sums every A/B statistic is computed from.

A backend (pandas or DuckDB, see :mod:`study.ab.aggregate`) reduces each arm to a handful of sums;
:mod:`study.ab.abstats`, :mod:`study.ab.cuped` and :mod:`study.ab.power` work from those sums only, so the
same maths serves a 1,000-row frame and a 10-million-row Parquet file.

Each class lists its sums in ``TERMS``: field name -> power of each of its columns, e.g.
``"sum_xy": (1, 1)`` is the sum of ``x * y`` over the arm's rows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import ClassVar, Literal

import numpy as np

MetricKind = Literal["mean", "proportion", "ratio"]


@dataclass(frozen=True)
class Metric:
    """What to aggregate for one metric, and how to compare it.

    Parameters
    ----------
    name : str
        Name in tables and results.
    column : str
        Value column; for a ratio metric, the numerator (e.g. spend).
    kind : {"mean", "proportion", "ratio"}
        ``proportion`` needs a 0/1 column; ``ratio`` needs ``denominator``.
    denominator : str, optional
        Denominator column of a ratio metric (e.g. orders, for spend per order).
    covariate : str, optional
        Pre-period covariate for CUPED / regression adjustment; for a ratio metric, the numerator of
        the pre-period ratio (e.g. CSAT sum before the experiment).
    label : str, optional
        Words for the metric, with its unit; defaults to ``name``.
    covariate_denominator : str, optional
        Denominator of a ratio metric's pre-period ratio (e.g. surveys before the experiment); needed
        for, and only for, a ratio metric with a covariate.
    """

    name: str
    column: str
    kind: MetricKind = "mean"
    denominator: str | None = None
    covariate: str | None = None
    label: str | None = None
    covariate_denominator: str | None = None

    def __post_init__(self):
        if self.kind not in ("mean", "proportion", "ratio"):
            raise ValueError(f"metric '{self.name}': kind must be mean, proportion or ratio, not {self.kind!r}")
        if (self.kind == "ratio") != (self.denominator is not None):
            raise ValueError(f"metric '{self.name}': a denominator is needed for, and only for, a ratio metric")
        if (self.kind == "ratio" and self.covariate is not None) != (self.covariate_denominator is not None):
            raise ValueError(f"metric '{self.name}': a covariate denominator is needed for, and only for, "
                             "a ratio metric with a covariate")

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns read, in the order of the statistics class's ``TERMS`` powers."""
        if self.kind == "ratio":
            if self.covariate is not None:
                return (self.column, self.denominator, self.covariate, self.covariate_denominator)
            return (self.column, self.denominator)
        if self.covariate is not None:
            return (self.covariate, self.column)
        return (self.column,)

    @property
    def statistics(self) -> type[Moments] | type[RatioMoments] | type[CovariateMoments] | type[RatioCovariateMoments]:
        """The sufficient-statistics class this metric is aggregated into."""
        if self.kind == "ratio":
            return RatioMoments if self.covariate is None else RatioCovariateMoments
        return Moments if self.covariate is None else CovariateMoments


def _factors(powers: tuple[int, ...]) -> tuple[int, ...]:
    """A term's factors, left to right: each column's index repeated by its power, ``(2, 1)`` -> ``(0, 0, 1)``."""
    return tuple(i for i, p in enumerate(powers) for _ in range(p))


@functools.cache
def _shared_starts(terms: tuple[tuple[int, ...], ...]) -> frozenset[tuple[int, ...]]:
    """The products of two or more factors that begin a longer term (``x * x`` begins ``x * x * y``): kept while a
    class's sums are taken, so each is multiplied once."""
    return frozenset(f[:k] for f in map(_factors, terms) for k in range(2, len(f)))


def _product(values: list[np.ndarray], powers: tuple[int, ...], kept: dict | None = None,
             shared: frozenset = frozenset(), scratch: np.ndarray | None = None) -> np.ndarray:
    """Each row's product of the columns raised to ``powers``, multiplied left to right in column order, each
    column as many times as its power (``x * x * y`` for ``(2, 1)``): as ``np.prod`` over those factors stacked
    multiplies, and as the SQL engines write a term (:mod:`study.ab.scan`).

    numpy's ``v**3`` calls ``pow`` for every element, 40 times slower than two multiplications (at 10 million
    tickets, seconds of the SLA experiment's segment table). A product begun by another term (``shared``) is
    multiplied once and kept in ``kept``; the others are written into ``scratch`` when given (an array of the
    columns' length, reused from term to term: a fresh array for each of a table's dozens of products cost as
    much again in new memory as the multiplication itself).
    """
    factors = _factors(powers)
    if not factors:
        return np.ones(len(values[0]) if values else 0)
    kept = {} if kept is None else kept
    begun = max((k for k in range(2, len(factors) + 1) if factors[:k] in kept), default=1)
    result = kept[factors[:begun]] if begun > 1 else values[factors[0]]
    for k in range(begun, len(factors)):
        if factors[:k + 1] in shared:
            result = kept[factors[:k + 1]] = result * values[factors[k]]
        else:
            result = np.multiply(result, values[factors[k]], out=scratch)
    return result


class _Sums:
    """Shared behaviour: construction from arrays and addition of independent samples."""

    TERMS: ClassVar[dict[str, tuple[int, ...]]]

    @classmethod
    def from_arrays(cls, *columns, origin: tuple[float, ...] | None = None):
        """Sums over the rows where every column has a value.

        Parameters
        ----------
        *columns : array-like
            One array per column, in the order of ``TERMS``' powers.
        origin : tuple of float, optional
            Only for :class:`CovariateMoments`: the point the sums are taken about.
        """
        values = [np.asarray(c, dtype=float) for c in columns]
        keep = np.logical_and.reduce([~np.isnan(v) for v in values])
        if origin is not None:
            values = [v - o for v, o in zip(values, origin)]
        if not keep.all():
            values = [v[keep] for v in values]
        kept: dict = {}
        shared = _shared_starts(tuple(cls.TERMS.values()))
        scratch = np.empty(len(values[0]) if values else 0)
        sums = {name: float(np.sum(_product(values, powers, kept, shared, scratch))) for name, powers in cls.TERMS.items()}
        extra = {} if origin is None else {"origin": tuple(float(o) for o in origin)}
        return cls(n=int(keep.sum()), **sums, **extra)

    def __add__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        if getattr(self, "origin", None) != getattr(other, "origin", None):
            raise ValueError("cannot add sums taken about different origins")
        merged = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "origin"}
        if hasattr(self, "origin"):
            merged["origin"] = self.origin
        return type(self)(**merged)


@dataclass(frozen=True)
class Moments(_Sums):
    """n, sum and sum of squares of one metric in one arm.

    The variance comes from ``sum_sq - sum**2 / n``; its relative rounding error is about
    ``1e-16 * (mean / sd)**2``, negligible for business metrics (spend, counts, 0/1 outcomes).
    """

    n: int
    sum: float
    sum_sq: float

    TERMS: ClassVar[dict[str, tuple[int, ...]]] = {"sum": (1,), "sum_sq": (2,)}

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance (denominator ``n - 1``)."""
        if self.n < 2:
            return math.nan
        return max(self.sum_sq - self.sum * self.sum / self.n, 0.0) / (self.n - 1)


@dataclass(frozen=True)
class RatioMoments(_Sums):
    """Sums of a ratio metric's numerator and denominator in one arm (e.g. spend and orders per customer).

    The metric is ``sum_num / sum_den``: total spend over total orders, each customer (the randomized
    unit) contributing one row.
    """

    n: int
    sum_num: float
    sum_num_sq: float
    sum_den: float
    sum_den_sq: float
    sum_num_den: float

    TERMS: ClassVar[dict[str, tuple[int, ...]]] = {
        "sum_num": (1, 0), "sum_num_sq": (2, 0), "sum_den": (0, 1), "sum_den_sq": (0, 2), "sum_num_den": (1, 1),
    }

    @property
    def numerator(self) -> Moments:
        return Moments(self.n, self.sum_num, self.sum_num_sq)

    @property
    def denominator(self) -> Moments:
        return Moments(self.n, self.sum_den, self.sum_den_sq)

    @property
    def cov(self) -> float:
        """Sample covariance of numerator and denominator (denominator ``n - 1``)."""
        return (self.sum_num_den - self.sum_num * self.sum_den / self.n) / (self.n - 1)

    @property
    def ratio(self) -> float:
        return self.sum_num / self.sum_den


@dataclass(frozen=True)
class RatioCovariateMoments(_Sums):
    """Sums of a ratio metric and its pre-period ratio covariate in one arm, for CUPED of ratio metrics.

    Four columns per unit: the metric's numerator and denominator (e.g. CSAT sum and surveys) and the
    covariate's (the same before the experiment); every sum and sum of pairwise products, so the
    delta-method covariance of the two ratios is exact from the sums. The first five fields are
    named as in :class:`RatioMoments`.
    """

    n: int
    sum_num: float
    sum_num_sq: float
    sum_den: float
    sum_den_sq: float
    sum_num_den: float
    sum_cnum: float
    sum_cnum_sq: float
    sum_cden: float
    sum_cden_sq: float
    sum_cnum_cden: float
    sum_num_cnum: float
    sum_num_cden: float
    sum_den_cnum: float
    sum_den_cden: float

    TERMS: ClassVar[dict[str, tuple[int, ...]]] = {
        "sum_num": (1, 0, 0, 0), "sum_num_sq": (2, 0, 0, 0), "sum_den": (0, 1, 0, 0), "sum_den_sq": (0, 2, 0, 0),
        "sum_num_den": (1, 1, 0, 0), "sum_cnum": (0, 0, 1, 0), "sum_cnum_sq": (0, 0, 2, 0), "sum_cden": (0, 0, 0, 1),
        "sum_cden_sq": (0, 0, 0, 2), "sum_cnum_cden": (0, 0, 1, 1), "sum_num_cnum": (1, 0, 1, 0),
        "sum_num_cden": (1, 0, 0, 1), "sum_den_cnum": (0, 1, 1, 0), "sum_den_cden": (0, 1, 0, 1),
    }

    @property
    def ratio_moments(self) -> RatioMoments:
        """The metric's own sums, on the same rows."""
        return RatioMoments(self.n, self.sum_num, self.sum_num_sq, self.sum_den, self.sum_den_sq, self.sum_num_den)

    @property
    def ratio(self) -> float:
        return self.sum_num / self.sum_den

    def means_and_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """Means of (numerator, denominator, covariate numerator, covariate denominator) and their
        sample covariance matrix (denominator ``n - 1``)."""
        names = ("num", "den", "cnum", "cden")
        sums = np.array([getattr(self, f"sum_{a}") for a in names])
        products = np.empty((4, 4))
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                key = f"sum_{a}_sq" if i == j else f"sum_{a}_{b}" if hasattr(self, f"sum_{a}_{b}") else f"sum_{b}_{a}"
                products[i, j] = getattr(self, key)
        return sums / self.n, (products - np.outer(sums, sums) / self.n) / (self.n - 1)


@dataclass(frozen=True)
class CovariateMoments(_Sums):
    """Sums of a metric ``y`` and its pre-period covariate ``x`` in one arm, for regression adjustment.

    The first six sums (``n``, ``sum_y``, ``sum_y2``, ``sum_x``, ``sum_x2``, ``sum_xy``) give the
    CUPED estimate; the higher-order ones give its heteroskedasticity-robust (HC1) standard error
    exactly, not only asymptotically (the sandwich needs sums of squared residuals times ``x`` and
    ``x**2``). Sums are taken about ``origin = (x0, y0)``, a rounded overall mean, because raw
    fourth powers of a covariate far from zero (a year, a timestamp) would lose every digit.
    """

    n: int
    sum_x: float
    sum_x2: float
    sum_x3: float
    sum_x4: float
    sum_y: float
    sum_xy: float
    sum_x2y: float
    sum_x3y: float
    sum_y2: float
    sum_xy2: float
    sum_x2y2: float
    origin: tuple[float, float] = (0.0, 0.0)

    TERMS: ClassVar[dict[str, tuple[int, ...]]] = {
        "sum_x": (1, 0), "sum_x2": (2, 0), "sum_x3": (3, 0), "sum_x4": (4, 0),
        "sum_y": (0, 1), "sum_xy": (1, 1), "sum_x2y": (2, 1), "sum_x3y": (3, 1),
        "sum_y2": (0, 2), "sum_xy2": (1, 2), "sum_x2y2": (2, 2),
    }

    def power_sum(self, x_power: int, y_power: int) -> float:
        """Sum of ``x**x_power * y**y_power`` (about the origin)."""
        if (x_power, y_power) == (0, 0):
            return float(self.n)
        for name, powers in self.TERMS.items():
            if powers == (x_power, y_power):
                return getattr(self, name)
        raise KeyError((x_power, y_power))

    @property
    def metric(self) -> Moments:
        """The metric's own moments (about zero), on the same rows."""
        y0 = self.origin[1]
        return Moments(self.n, self.sum_y + self.n * y0, self.sum_y2 + 2 * y0 * self.sum_y + self.n * y0 * y0)

    @property
    def covariate(self) -> Moments:
        """The covariate's own moments (about zero), on the same rows."""
        x0 = self.origin[0]
        return Moments(self.n, self.sum_x + self.n * x0, self.sum_x2 + 2 * x0 * self.sum_x + self.n * x0 * x0)


def rounded_origin(mean: float) -> float:
    """A mean rounded to three significant digits: the same origin whichever backend computed the mean."""
    if not math.isfinite(mean) or mean == 0:
        return 0.0
    return float(f"{mean:.3g}")
