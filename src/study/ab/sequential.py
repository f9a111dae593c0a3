"""Looking at an experiment more than once without inflating its false-positive rate.

Two ways, for a difference (in means or proportions) with a normal approximation:

- **Always-valid inference** (:func:`always_valid`): the normal-mixture confidence sequence and its
  mixture-SPRT p-value (Waudby-Smith et al., "Time-uniform central limit theory and asymptotic
  confidence sequences", arXiv:2103.06476v7, eqs. 9, 155 and 161), in the parametrisation of
  GrowthBook's ``gbstats`` sequential test. The interval holds at every look simultaneously, so it
  may be read as often as one likes and the experiment stopped at any time; the price is width.
- **Group-sequential boundaries** (:func:`group_sequential_boundaries`): K looks planned at
  information fractions ``t_1 < ... < t_K = 1``, Lan-DeMets alpha spending (O'Brien-Fleming-type,
  Pocock-type or the power family ``alpha * t**rho``), boundaries by numerical integration over the
  continuation region (Armitage, McPherson and Rowe 1969; Jennison and Turnbull 2000, ch. 19).
  Narrower than always-valid intervals, but only for the looks that were planned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from study.core.inference import critical_value

# Beyond |z| = 8.5 the standard normal density is below 1e-16: truncating the grid there loses nothing.
_Z_MAX = 8.5
# Grid steps per standard deviation of the smallest increment; Simpson's rule is then accurate to ~1e-9.
_STEPS_PER_SD = 24
_MAX_POINTS = 6001


@dataclass(frozen=True)
class AlwaysValid:
    """An always-valid interval and p-value at one look.

    Attributes
    ----------
    estimate, se : float
        The difference and its standard error at this look.
    n : int
        Units so far, both arms together.
    tuning : float
        The ``n`` at which the interval is narrowest (gbstats' ``sequential_tuning_parameter``).
    alpha : float
    rho : float
        Mixture scale chosen from ``alpha`` and ``tuning``.
    ci_low, ci_high : float
        The confidence sequence at this look: with probability at least ``1 - alpha`` every look's
        interval contains the true difference.
    p_value : float
        ``min(1, 1 / e-value)`` of the null ``null``; below ``alpha`` exactly when the interval
        excludes ``null``.
    null : float
    method : str
    """

    estimate: float
    se: float
    n: int
    tuning: float
    alpha: float
    rho: float
    ci_low: float
    ci_high: float
    p_value: float
    null: float
    method: str

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def mixture_rho(alpha: float, tuning: float) -> float:
    """Mixture scale that makes the confidence sequence narrowest at ``n = tuning`` (eq. 161)."""
    log_alpha = -2 * math.log(alpha)
    return math.sqrt((log_alpha + math.log(log_alpha + 1)) / tuning)


def always_valid_multiplier(n: int, alpha: float = 0.05, tuning: float = 5000) -> float:
    """Half-width of the confidence sequence in standard errors at ``n`` units.

    It plays the part ``critical_value(alpha)`` plays for a fixed-horizon interval, but is not a
    normal quantile: it grows like ``sqrt(log n)`` so that the interval holds at every ``n``.
    """
    nr2 = n * mixture_rho(alpha, tuning) ** 2
    return math.sqrt(2 * (nr2 + 1) * math.log(math.sqrt(nr2 + 1) / alpha) / nr2)


def always_valid(estimate: float, se: float, n: int, *, alpha: float = 0.05, tuning: float = 5000,
                 null: float = 0.0) -> AlwaysValid:
    """Always-valid interval and p-value of a difference estimated with standard error ``se``.

    Parameters
    ----------
    estimate, se : float
        Difference (treatment - control, or a relative lift) and its standard error at this look.
    n : int
        Units so far, both arms together.
    alpha : float
    tuning : float
        Units (both arms) at which the interval should be narrowest: the planned size. gbstats'
        default is 5000.
    null : float
        Value of the difference under the null.

    Returns
    -------
    AlwaysValid

    Notes
    -----
    With per-unit variance ``s2 = se**2 * n`` the e-value of the null is
    ``exp(rho**2 n z**2 / (2 (n rho**2 + 1))) / sqrt(n rho**2 + 1)`` where
    ``z = (estimate - null) / se``; the interval is the set of nulls whose e-value is below
    ``1 / alpha``. The variance is treated as known, so early looks on a handful of units are only
    approximately valid.
    """
    if not (se > 0 and math.isfinite(se)) or n < 1:
        raise ValueError(f"need a positive standard error and n >= 1, got se {se}, n {n}")
    if not 0 < alpha < 1 or tuning <= 0:
        raise ValueError(f"need 0 < alpha < 1 and tuning > 0, got alpha {alpha}, tuning {tuning}")
    rho = mixture_rho(alpha, tuning)
    half = always_valid_multiplier(n, alpha, tuning) * se
    nr2 = n * rho * rho
    z2 = ((estimate - null) / se) ** 2
    log_e = rho * rho * n * z2 / (2 * (nr2 + 1)) - 0.5 * math.log(nr2 + 1)
    p_value = math.exp(-log_e) if log_e > 0 else 1.0
    method = (f"always_valid_mixture: normal-mixture confidence sequence, mixture-SPRT p-value, known-variance "
              f"normal approximation, narrowest at {tuning:g} units")
    return AlwaysValid(float(estimate), float(se), int(n), float(tuning), alpha, rho, float(estimate - half),
                       float(estimate + half), float(p_value), float(null), method)


def spending(information: Sequence[float] | np.ndarray, alpha: float, kind: str = "obrien_fleming",
             rho: float = 2.0) -> np.ndarray:
    """Cumulative type-I error spent by information fraction ``t``.

    Parameters
    ----------
    information : array-like
        Information fractions in (0, 1].
    alpha : float
        Total error to spend (per side for a one-sided plan, both sides for a two-sided one).
    kind : {"obrien_fleming", "pocock", "power"}
        Lan and DeMets (1983): ``2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))`` (O'Brien-Fleming-type) or
        ``alpha log(1 + (e - 1) t)`` (Pocock-type); Kim and DeMets (1987): ``alpha t**rho``.
    rho : float
        Exponent of the power family.

    Returns
    -------
    numpy.ndarray
    """
    t = np.asarray(information, dtype=float)
    if kind == "obrien_fleming":
        return 2 * stats.norm.sf(critical_value(alpha) / np.sqrt(t))
    if kind == "pocock":
        return alpha * np.log1p((math.e - 1) * t)
    if kind == "power":
        return alpha * t**rho
    raise ValueError(f"spending must be 'obrien_fleming', 'pocock' or 'power', not {kind!r}")


@dataclass(frozen=True)
class GroupSequentialPlan:
    """Boundaries of a group-sequential test.

    Attributes
    ----------
    information : tuple of float
        Information fractions of the looks (the last is 1).
    alpha : float
        Overall level (two-sided for ``sides=2``).
    spending : str
        Spending function, in words.
    sides : int
        2: reject when ``|z| >= boundary``; 1: when ``z >= boundary``.
    boundaries : tuple of float
        z boundary at each look.
    alpha_spent : tuple of float
        Cumulative type-I error the plan spends by each look.
    """

    information: tuple[float, ...]
    alpha: float
    spending: str
    sides: int
    boundaries: tuple[float, ...]
    alpha_spent: tuple[float, ...]

    def nominal_p_values(self) -> tuple[float, ...]:
        """The fixed-horizon p-value a look must go below to cross its boundary."""
        return tuple(float(self.sides * stats.norm.sf(b)) for b in self.boundaries)

    def monitor(self, z_values: Sequence[float]) -> SequentialDecision:
        """Walk through the looks so far; stop at the first crossed boundary.

        Parameters
        ----------
        z_values : sequence of float
            The z statistic (difference / standard error) at each look taken, in order.
        """
        if len(z_values) > len(self.boundaries):
            raise ValueError(f"{len(z_values)} looks taken but {len(self.boundaries)} planned")
        for look, (z, bound) in enumerate(zip(z_values, self.boundaries), start=1):
            if (abs(z) if self.sides == 2 else z) >= bound:
                return SequentialDecision(True, look, float(z), bound, len(z_values) == len(self.boundaries))
        last = len(z_values)
        return SequentialDecision(False, last, float(z_values[-1]) if last else math.nan,
                                  self.boundaries[last - 1] if last else math.nan, last == len(self.boundaries))


@dataclass(frozen=True)
class SequentialDecision:
    """Outcome of monitoring a group-sequential plan.

    Attributes
    ----------
    crossed : bool
        A boundary was crossed: stop and declare the difference significant.
    look : int
        The look at which it was crossed, or the last look taken.
    z, boundary : float
        The statistic and the boundary at that look.
    final : bool
        The last planned look has been reached (no crossing then means: not significant).
    """

    crossed: bool
    look: int
    z: float
    boundary: float
    final: bool


def _grid(half_width: float, step: float, lower: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simpson nodes and weights on ``[lower, half_width]`` (``lower`` defaults to ``-half_width``)."""
    low = -half_width if lower is None else lower
    intervals = int(np.clip(math.ceil((half_width - low) / step), 2, _MAX_POINTS - 1))
    intervals += intervals % 2
    nodes = np.linspace(low, half_width, intervals + 1)
    weights = np.ones(intervals + 1)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return nodes, weights * (half_width - low) / (3 * intervals)


class _Integrator:
    """The sub-density of the score ``S_k = Z_k sqrt(t_k)`` on the continuation region, look by look."""

    def __init__(self, information: np.ndarray, sides: int, drift: float):
        self.t, self.sides, self.drift = information, sides, drift
        increments = np.diff(np.concatenate([[0.0], information]))
        self.step = math.sqrt(increments.min()) / _STEPS_PER_SD
        self.nodes = self.weights = self.density = None

    def cross(self, k: int, bound: float) -> float:
        """P(no crossing before look ``k``, crossing at look ``k``) if its boundary is ``bound`` (z scale)."""
        edge = bound * math.sqrt(self.t[k])
        if k == 0:
            mean, sd = self.drift * self.t[0], math.sqrt(self.t[0])
            upper = stats.norm.sf(edge, mean, sd)
            return float(upper + (stats.norm.cdf(-edge, mean, sd) if self.sides == 2 else 0.0))
        sd = math.sqrt(self.t[k] - self.t[k - 1])
        mean = self.nodes + self.drift * (self.t[k] - self.t[k - 1])
        tail = stats.norm.sf((edge - mean) / sd)
        if self.sides == 2:
            tail = tail + stats.norm.cdf((-edge - mean) / sd)
        return float(np.sum(self.weights * self.density * tail))

    def advance(self, k: int, bound: float) -> None:
        """Move the density to look ``k``, restricted to not having crossed ``bound`` there."""
        root_t = math.sqrt(self.t[k])
        high = min(bound, _Z_MAX) * root_t
        nodes, weights = _grid(high, self.step, None if self.sides == 2 else -_Z_MAX * root_t)
        if k == 0:
            density = stats.norm.pdf(nodes, self.drift * self.t[0], root_t)
        else:
            sd = math.sqrt(self.t[k] - self.t[k - 1])
            shift = self.drift * (self.t[k] - self.t[k - 1])
            kernel = stats.norm.pdf((nodes[:, None] - self.nodes[None, :] - shift) / sd) / sd
            density = kernel @ (self.weights * self.density)
        self.nodes, self.weights, self.density = nodes, weights, density


def crossing_probabilities(boundaries: Sequence[float], information: Sequence[float], *, sides: int = 2,
                           drift: float = 0.0) -> np.ndarray:
    """Probability of first crossing at each look, for given z boundaries.

    Parameters
    ----------
    boundaries : sequence of float
        z boundary at each look.
    information : sequence of float
        Information fractions (increasing; the last need not be 1).
    sides : {1, 2}
    drift : float
        Mean of ``Z`` at information fraction 1 (0: the null; the z expected at the end otherwise).

    Returns
    -------
    numpy.ndarray
        Exit probability at each look; their sum is the overall rejection probability.
    """
    t = _check_information(information)
    if len(boundaries) != len(t):
        raise ValueError("one boundary per look")
    integrator, out = _Integrator(t, sides, drift), []
    for k, bound in enumerate(boundaries):
        out.append(integrator.cross(k, float(bound)))
        integrator.advance(k, float(bound))
    return np.array(out)


def group_sequential_boundaries(information: Sequence[float], *, alpha: float = 0.05, spending_function: str = "obrien_fleming",
                                rho: float = 2.0, sides: int = 2) -> GroupSequentialPlan:
    """Lan-DeMets boundaries for looks at the given information fractions.

    Parameters
    ----------
    information : sequence of float
        Information fractions ``0 < t_1 < ... < t_K``; for a difference in means, units so far over
        units planned. The last should be 1: a final look with ``t_K < 1`` leaves error unspent.
    alpha : float
        Overall level; two-sided when ``sides=2`` (each side gets half).
    spending_function : {"obrien_fleming", "pocock", "power"}
        See :func:`spending`.
    rho : float
        Exponent of the power family.
    sides : {1, 2}
        2: symmetric two-sided boundaries, the continuation region is ``|Z| < c_k``;
        1: an upper boundary only, at one-sided level ``alpha``.

    Returns
    -------
    GroupSequentialPlan

    Notes
    -----
    Each boundary solves ``P(no crossing before look k, crossing at look k) = a(t_k) - a(t_{k-1})``
    under the null, ``a`` the spending function. For two sides the spending function is applied
    to ``alpha / 2`` per side and the two-sided exit probability is matched to twice that; this is
    the convention of DeMets and Lan (1994) and of the ``ldbounds`` package (O'Brien-Fleming-type,
    K = 5 equally spaced, alpha = 0.05: 4.877, 3.357, 2.680, 2.290, 2.031).
    """
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha}")
    t = _check_information(information)
    cumulative = sides * spending(t, alpha / sides, spending_function, rho)
    integrator, bounds = _Integrator(t, sides, 0.0), []
    for k in range(len(t)):
        target = cumulative[k] - (cumulative[k - 1] if k else 0.0)
        if k == 0:
            bound = float(stats.norm.isf(target / sides))
        else:
            # The exit probability falls from its value at the previous boundary's level towards 0.
            bound = optimize.brentq(lambda c, k=k, target=target: integrator.cross(k, c) - target, 1e-6, 40.0,
                                    xtol=1e-10, rtol=1e-12)
        bounds.append(bound)
        integrator.advance(k, bound)
    words = {"obrien_fleming": "Lan-DeMets O'Brien-Fleming-type", "pocock": "Lan-DeMets Pocock-type",
             "power": f"power family alpha * t^{rho:g}"}[spending_function]
    return GroupSequentialPlan(tuple(float(x) for x in t), alpha, words, sides, tuple(bounds),
                               tuple(float(x) for x in cumulative))


def _check_information(information: Sequence[float]) -> np.ndarray:
    t = np.asarray(information, dtype=float)
    if t.ndim != 1 or len(t) == 0 or t[0] <= 0 or np.any(np.diff(t) <= 0) or t[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must increase strictly within (0, 1], got {list(t)}")
    return t
