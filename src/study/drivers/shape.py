"""The shape of a numeric driver's association: a restricted cubic spline, against a reference value.

Why this shape. A restricted (natural) cubic spline (Harrell, *Regression Modeling Strategies*, 2.4.5)
is the driver itself plus ``k - 2`` curvature terms, with knots at fixed quantiles of the driver
(Harrell's defaults: 3 knots at the 10th, 50th and 90th percentiles, 4 at the 5th, 35th, 65th and
95th, 5 at the 5th, 27.5th, 50th, 72.5th and 95th), and straight beyond the outer knots, where data
is thin. Three properties make it the study's choice over bins or a B-spline: the straight line is
the model with the curvature terms at zero, so one Wald test of those terms says whether the data
departs from the linear headline; it does not depend on where bin edges fall; and it cannot swing
in the tails. It is fitted with the same controls, rows and standard errors as the adjusted model.

A signed driver (at least 1% of rows on each side of zero, such as days late against a promised date,
negative when early) is measured against a target, and crossing the target is often judged on its
own: late at all, not only how late. A smooth curve would spread such a jump over the knots around
zero and misstate both sides, so for a signed driver the curve may also jump and change slope at
zero: terms ``driver > 0`` and ``max(driver, 0)`` are added, the step is reported with its interval,
and the curve is smooth on each side.

Beyond the outer knots the curve is a straight line by design: where the data are thin, a bend there
is not shown (and the extreme 1% on each side are not drawn).

The curve is the difference in the outcome between a driver value and the reference value, the
controls held fixed, with pointwise intervals from the fit's robust (or clustered) covariance by the
delta method. The reference is 0 when 0 lies within the driver's 5th to 95th percentile (an order
delivered on the promised day, no wait), else the median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.inference import (
    WALD,
    Interval,
    critical_value,
    wald_interval,
    wald_p_value,
)
from study.core.results import Estimate, Skipped
from study.drivers.rows import ModelRows
from study.regression.fitting import fit_ols, inference_df, term

SECTION = "shape of the association"
HARRELL = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95), 5: (0.05, 0.275, 0.50, 0.725, 0.95)}
GRID = 61  # points on the curve, from the 1st to the 99th percentile


def knot_count(rows: int) -> int:
    """Knots by sample size (Harrell's advice): 3 below 100 rows, 4 below 1,000, else 5."""
    return 3 if rows < 100 else 4 if rows < 1_000 else 5


def knots(values: np.ndarray, count: int) -> np.ndarray:
    """Knots at Harrell's quantiles; repeated ones (a driver with heavy ties) merged."""
    return np.unique(np.quantile(values, HARRELL[count]))


def basis(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The ``k - 2`` curvature columns of a restricted cubic spline with knots ``at`` (Harrell's parameterization).

    ``(x - t_j)_+^3 - (x - t_{k-1})_+^3 (t_k - t_j) / (t_k - t_{k-1}) + (x - t_k)_+^3 (t_{k-1} - t_j) / (t_k - t_{k-1})``,
    divided by ``(t_k - t_1)^2`` so the columns are on the driver's scale; each is linear beyond ``t_k``.
    """
    x = np.asarray(x, dtype=float)[:, None]
    t = np.asarray(at, dtype=float)
    k = len(t)
    first, last, before = t[:-2], t[-1], t[-2]

    def cube(v):
        return np.clip(v, 0, None) ** 3

    columns = (cube(x - first) - cube(x - before) * (last - first) / (last - before)
               + cube(x - last) * (before - first) / (last - before))
    return columns / (last - t[0]) ** 2 if k > 2 else np.empty((len(x), 0))


@dataclass
class DoseResponse:
    """The driver's association along its range, against a reference value.

    Attributes
    ----------
    curve : pandas.DataFrame
        ``value`` (of the driver), ``difference`` (outcome minus its value at the reference),
        ``se``, ``ci_low``, ``ci_high``.
    reference : float
    reference_reason : str
    knots : numpy.ndarray
    nonlinearity_p : float
        Wald test that every bending term (curvature; a signed driver's step and change of slope at zero)
        is zero: the straight line describes the data.
    fit : statsmodels results
        The spline model.
    alpha : float
    driver, outcome : str
    names : tuple of str
        The model's curvature columns.
    step : str or None
        The model's column ``driver > 0`` for a signed driver, else ``None``.
    """

    curve: pd.DataFrame
    reference: float
    reference_reason: str
    knots: np.ndarray
    nonlinearity_p: float
    fit: object
    alpha: float
    driver: str
    outcome: str
    names: tuple
    step: str | None = None
    hinge: str | None = None
    quoted: list = field(default_factory=list)

    def _gradient(self, value: float, against: float) -> np.ndarray:
        """Coefficient weights of (curve at ``value``) minus (curve at ``against``)."""
        weights = pd.Series(0.0, index=self.fit.params.index)
        weights[term(self.driver)] = value - against
        shift = basis(np.array([value]), self.knots)[0] - basis(np.array([against]), self.knots)[0]
        weights[list(self.names)] = shift
        if self.step:
            weights[self.step] = float(value > 0) - float(against > 0)
            weights[self.hinge] = max(value, 0.0) - max(against, 0.0)
        return weights.to_numpy()

    def jump(self) -> Estimate | None:
        """The step at zero of a signed driver: the outcome just above zero minus at zero, controls held fixed."""
        if not self.step:
            return None
        df = inference_df(self.fit)
        value, se = float(self.fit.params[self.step]), float(self.fit.bse[self.step])
        low, high = wald_interval(value, se, self.alpha, df)
        return Estimate("driver_step_at_zero", f"{self.outcome} just above {self.driver} = 0 minus at 0 (the step, spline, "
                        "adjusted)", value, se, low, high, wald_p_value(value, se, df) if se > 0 else None, int(self.fit.nobs),
                        f"restricted cubic spline with a step at zero ({len(self.knots)} knots); observational, adjusted",
                        1 - self.alpha, model=str(self.fit.model.formula), interval=WALD if df is None else Interval(df=df))

    def difference(self, low: float, high: float, name: str = "driver_curve_difference") -> Estimate:
        """The outcome at driver value ``high`` minus at ``low``, controls held fixed, with its interval."""
        gradient = self._gradient(high, low)
        value = float(gradient @ self.fit.params.to_numpy())
        se = float(np.sqrt(gradient @ self.fit.cov_params().to_numpy() @ gradient))
        df = inference_df(self.fit)
        ci_low, ci_high = wald_interval(value, se, self.alpha, df)
        return Estimate(name, f"{self.outcome} at {self.driver} = {high:g} minus at {low:g} (spline, adjusted)", value, se,
                        ci_low, ci_high, wald_p_value(value, se, df) if se > 0 else None, int(self.fit.nobs),
                        f"restricted cubic spline ({len(self.knots)} knots), delta method; observational, adjusted",
                        1 - self.alpha, extra={"at": float(high), "against": float(low)}, model=str(self.fit.model.formula),
                        interval=WALD if df is None else Interval(df=df))

    def at(self, value: float, name: str = "driver_curve_point") -> Estimate:
        """The outcome at driver value ``value`` minus at the reference (:meth:`difference`)."""
        return self.difference(self.reference, value, name)

    def points(self, values: np.ndarray) -> list[Estimate]:
        """The curve at the driver's 5th, 95th and 99th percentiles (two significant digits), the reference left out.

        Named ``driver_curve_p05``, ``driver_curve_p95``, ``driver_curve_p99``: the points the findings quote.
        """
        out, seen = [], set()
        for q in (5, 95, 99):
            value = round_value(float(np.quantile(values, q / 100)))
            if value != self.reference and value not in seen:
                seen.add(value)
                out.append(self.at(value, f"driver_curve_p{q:02d}"))
        return out

    @property
    def estimates(self) -> list[Estimate]:
        """The points the findings quote and, for a signed driver, the step at zero."""
        step = self.jump()
        return [*self.quoted, *([step] if step else [])]


def round_value(value: float) -> float:
    """Two significant digits, for the driver values a sentence quotes (-24.3 -> -24, 2.73 -> 2.7)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return float(round(value, 1 - math.floor(math.log10(abs(value)))))


def reference_value(values: np.ndarray, given: float | None = None) -> tuple[float, str]:
    """The curve's reference: as given; else 0 when within the 5th-95th percentile; else the median (rounded)."""
    if given is not None:
        return float(given), "as asked"
    low, high = np.quantile(values, [0.05, 0.95])
    if low <= 0 <= high:
        return 0.0, "zero lies within the driver's usual range"
    median = float(np.median(values))
    return median, "the driver's median"


def signed(values: np.ndarray) -> bool:
    """Whether a driver lies on both sides of zero, each side holding at least 1% of the rows."""
    return bool(np.mean(values < 0) >= 0.01 and np.mean(values > 0) >= 0.01)


def _free(name: str, taken) -> str:
    while name in taken:
        name = "_" + name
    return name


def dose_response(m: ModelRows, alpha: float, reference: float | None = None, count: int | None = None,
                  step: bool | None = None) -> DoseResponse | Skipped:
    """The restricted cubic spline of the driver, adjusted as the headline model (module docstring).

    Returns
    -------
    DoseResponse or Skipped
        Skipped, with the reason, when the driver has too few distinct values for three knots, or the
        rows cannot support the model.
    """
    x = m.rows[m.driver].to_numpy(dtype=float)
    count = count or knot_count(len(x))
    at = knots(x, count)
    while len(at) < count and count > 3:  # heavy ties: fewer quantiles are distinct, try fewer knots
        count -= 1
        at = knots(x, count)
    if len(at) < 3:
        return Skipped(SECTION, f"{m.driver} has too few distinct values ({len(np.unique(x))}) for a curve: its quantiles "
                                "give fewer than three distinct knots")
    names = [_free(f"_curve_{j + 1}", m.rows.columns) for j in range(len(at) - 2)]
    columns = basis(x, at)
    rows = m.rows.assign(**{name: columns[:, j] for j, name in enumerate(names)})
    jump = _free("_above_zero", rows.columns) if (signed(x) if step is None else step) else None
    hinge = _free("_past_zero", rows.columns) if jump else None
    if jump:
        rows[jump] = (x > 0).astype(float)
        rows[hinge] = np.clip(x, 0, None)
    terms = [m.driver, *names, *([jump, hinge] if jump else []), *m.numeric]
    reason = degenerate.too_few_rows(rows, degenerate.parameters(rows, terms, m.categorical))
    if reason:
        return Skipped(SECTION, reason)
    fit = fit_ols(rows, m.outcome, terms, m.categorical, cluster=m.cluster)
    # The straight line is the model with every bending term at zero: the curvature, and a signed driver's step and kink.
    bending = [*names, *([jump, hinge] if jump else [])]
    restriction = np.zeros((len(bending), len(fit.params)))
    for j, name in enumerate(bending):
        restriction[j, list(fit.params.index).index(name)] = 1.0
    test = fit.wald_test(restriction, scalar=True)
    ref, why = reference_value(x, reference)
    shape = DoseResponse(pd.DataFrame(), ref, why, at, float(test.pvalue), fit, alpha, m.driver, m.outcome, tuple(names), jump,
                         hinge)
    low, high = np.quantile(x, [0.01, 0.99])
    # With a step, zero and the smallest positive value seen mark the two ends of the jump on the grid.
    edges = [0.0, float(x[x > 0].min())] if jump and low < 0 < high else []
    grid = np.unique(np.concatenate([np.linspace(low, high, GRID), [ref], edges]))
    params, cov = fit.params.to_numpy(), fit.cov_params().to_numpy()
    gradients = np.array([shape._gradient(v, ref) for v in grid])
    difference = gradients @ params
    se = np.sqrt(np.einsum("ij,jk,ik->i", gradients, cov, gradients))
    half = critical_value(alpha, inference_df(fit)) * se
    low, high = difference - half, difference + half
    shape.curve = pd.DataFrame({"value": grid, "difference": difference, "se": se, "ci_low": low, "ci_high": high})
    shape.quoted = shape.points(x)
    return shape
