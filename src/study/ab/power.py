"""Power: units needed by the next experiment, and the smallest effect this one could detect.

Two-sided tests; both rejection tails count towards power (as in statsmodels' ``NormalIndPower``
and ``TTestIndPower``). Conventions:

- means, ``test="t"``: common SD, t reference with ``n_c + n_t - 2`` df, noncentral t under the
  alternative (``TTestIndPower``); ``test="z"``: normal (``NormalIndPower``);
- proportions: z-test with unpooled variances ``p(1 - p)`` at the control share and at the control
  share plus the effect (the Wald test of :func:`study.ab.abstats.proportion_effect`).

Counts are per arm; ``ratio`` is treatment units per control unit. Sizes are returned unrounded
and rounded up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats

from study.ab.sufficient import Moments
from study.core.results import Estimate


@dataclass(frozen=True)
class PowerPlan:
    """An effect size and the units per arm that detect it with the stated power.

    Attributes
    ----------
    method : str
    alpha, power : float
    difference : float
        Absolute effect (metric units, or share for proportions).
    relative : float or None
        ``difference`` over the control level, where one was given.
    n_control, n_treatment : float
        Units per arm, unrounded.
    sd : float or None
        Per-unit SD used (means).
    """

    method: str
    alpha: float
    power: float
    difference: float
    relative: float | None
    n_control: float
    n_treatment: float
    sd: float | None = None

    @property
    def units_control(self) -> int:
        return math.ceil(self.n_control - 1e-9)

    @property
    def units_treatment(self) -> int:
        return math.ceil(self.n_treatment - 1e-9)

    @property
    def units_total(self) -> int:
        return self.units_control + self.units_treatment

    def to_estimate(self, name: str, label: str) -> Estimate:
        """The plan as an :class:`~study.core.results.Estimate`: value is the effect size, ``n`` the total units."""
        return Estimate(name, label, self.difference, None, None, None, None, self.units_total, self.method,
                        1 - self.alpha, {"power": self.power, "relative": self.relative,
                                         "units_per_arm": {"control": self.units_control, "treatment": self.units_treatment},
                                         "sd": self.sd})


def power_from_se(difference: float, se: float, alpha: float = 0.05, df: float = math.inf) -> float:
    """Power of a two-sided test of an effect ``difference`` estimated with standard error ``se``."""
    noncentrality = abs(difference) / se
    if math.isinf(df):
        critical = stats.norm.isf(alpha / 2)
        return float(stats.norm.sf(critical - noncentrality) + stats.norm.cdf(-critical - noncentrality))
    critical = stats.t.isf(alpha / 2, df)
    wrong_tail = float(stats.nct.cdf(-critical, df, noncentrality))
    # scipy's noncentral t returns NaN far out in that tail (noncentrality >~ 10), where it is < 1e-20.
    return float(stats.nct.sf(critical, df, noncentrality)) + (wrong_tail if math.isfinite(wrong_tail) else 0.0)


def power_means(difference: float, sd: float, n_control: float, n_treatment: float, alpha: float = 0.05,
                test: str = "t") -> float:
    """Power of a two-sample test of means with common per-unit SD ``sd``."""
    se = sd * math.sqrt(1 / n_control + 1 / n_treatment)
    return power_from_se(difference, se, alpha, n_control + n_treatment - 2 if test == "t" else math.inf)


def power_proportions(p_control: float, difference: float, n_control: float, n_treatment: float,
                      alpha: float = 0.05) -> float:
    """Power of the unpooled z-test of two proportions when the treatment share is ``p_control + difference``."""
    p_treatment = p_control + difference
    se = math.sqrt(p_control * (1 - p_control) / n_control + p_treatment * (1 - p_treatment) / n_treatment)
    return power_from_se(difference, se, alpha)


def _solve(function, low: float, high: float) -> float:
    """Root of an increasing ``function`` on ``[low, high]``, widening ``high`` until it brackets."""
    if function(low) >= 0:
        return low
    while function(high) < 0:
        high *= 4
        if high > 1e15:
            raise ValueError("no solution: the target power cannot be reached")
    return optimize.brentq(function, low, high, xtol=1e-12, rtol=1e-13, maxiter=500)


def _check(alpha: float, power: float) -> None:
    if not (0 < alpha < 1 and alpha < power < 1):
        raise ValueError(f"need 0 < alpha < power < 1, got alpha {alpha}, power {power}")


def sample_size_means(difference: float, sd: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
                      test: str = "t", control_mean: float | None = None) -> PowerPlan:
    """Units per arm to detect ``difference`` in means with the given power.

    Parameters
    ----------
    difference : float
        Effect to detect, in metric units.
    sd : float
        Per-unit SD (e.g. from this experiment: :func:`pooled_sd`; after CUPED,
        :attr:`study.ab.cuped.AdjustedEffect.adjusted_sd`).
    alpha, power : float
    ratio : float
        Treatment units per control unit.
    test : {"t", "z"}
    control_mean : float, optional
        Control level, to report the relative effect.

    Returns
    -------
    PowerPlan
    """
    _check(alpha, power)
    n = _solve(lambda n: power_means(difference, sd, n, ratio * n, alpha, test) - power, 2.5 / (1 + ratio), 100.0)
    return PowerPlan(_means_method(test), alpha, power, abs(difference),
                     abs(difference) / control_mean if control_mean else None, n, ratio * n, sd)


def mde_means(sd: float, n_control: float, n_treatment: float, alpha: float = 0.05, power: float = 0.8,
              test: str = "t", control_mean: float | None = None) -> PowerPlan:
    """Smallest difference in means detected with the given power at these arm sizes (the MDE)."""
    _check(alpha, power)
    se = sd * math.sqrt(1 / n_control + 1 / n_treatment)
    difference = _solve(lambda d: power_means(d, sd, n_control, n_treatment, alpha, test) - power, 0.0, 10 * se)
    return PowerPlan(_means_method(test), alpha, power, difference, difference / control_mean if control_mean else None,
                     n_control, n_treatment, sd)


def sample_size_proportions(p_control: float, difference: float, alpha: float = 0.05, power: float = 0.8,
                            ratio: float = 1.0) -> PowerPlan:
    """Units per arm to move a share from ``p_control`` by ``difference`` (absolute, e.g. 0.02 = 2 pp)."""
    _check(alpha, power)
    if not (0 < p_control < 1 and 0 < p_control + difference < 1):
        raise ValueError("both shares must lie strictly between 0 and 1")
    n = _solve(lambda n: power_proportions(p_control, difference, n, ratio * n, alpha) - power, 1.0, 100.0)
    return PowerPlan(_PROPORTIONS_METHOD, alpha, power, abs(difference), abs(difference) / p_control, n, ratio * n)


def mde_proportions(p_control: float, n_control: float, n_treatment: float, alpha: float = 0.05, power: float = 0.8,
                    direction: int = 1) -> PowerPlan:
    """Smallest change of a share detected with the given power (upwards, or downwards with ``direction=-1``)."""
    _check(alpha, power)
    room = (1 - p_control) if direction > 0 else p_control
    function = lambda d: power_proportions(p_control, direction * d, n_control, n_treatment, alpha) - power  # noqa: E731
    if function(room * (1 - 1e-12)) < 0:
        raise ValueError("no detectable change: the arms are too small")
    difference = optimize.brentq(function, 0.0, room * (1 - 1e-12), xtol=1e-14, rtol=1e-13, maxiter=500)
    return PowerPlan(_PROPORTIONS_METHOD, alpha, power, difference, difference / p_control, n_control, n_treatment)


def pooled_sd(control: Moments, treatment: Moments) -> float:
    """Pooled within-arm SD per unit (the common SD of the t-test)."""
    within = (control.n - 1) * control.var + (treatment.n - 1) * treatment.var
    return math.sqrt(within / (control.n + treatment.n - 2))


def achieved_mde(control: Moments, treatment: Moments, kind: str = "mean", alpha: float = 0.05, power: float = 0.8,
                 sd: float | None = None) -> PowerPlan:
    """MDE of this experiment: its arm sizes and its own variance.

    Parameters
    ----------
    control, treatment : Moments
    kind : {"mean", "proportion"}
    alpha, power : float
    sd : float, optional
        Per-unit SD to use instead of the pooled one (e.g. the CUPED-adjusted SD).
    """
    if kind == "proportion":
        return mde_proportions(control.mean, control.n, treatment.n, alpha, power)
    return mde_means(sd if sd is not None else pooled_sd(control, treatment), control.n, treatment.n, alpha, power,
                     control_mean=control.mean)


def _means_method(test: str) -> str:
    if test == "t":
        return "power_t: two-sided t-test, common SD, n_c + n_t - 2 df, noncentral t (statsmodels TTestIndPower convention)"
    if test == "z":
        return "power_z: two-sided z-test, common SD, both tails (statsmodels NormalIndPower convention)"
    raise ValueError("test must be 't' or 'z'")


_PROPORTIONS_METHOD = ("power_z_unpooled: two-sided z-test of two proportions, unpooled variances p(1-p) at the control "
                       "share and at the control share plus the effect, both tails")
