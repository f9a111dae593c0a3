"""Treatment-versus-control statistics from sufficient statistics: means, proportions, ratio metrics.

Every result is an :class:`Effect` that names its method (``welch_t``, ``z_unpooled``,
``z_pooled_cc``, ``delta_ratio_welch_t``; relative lift ``delta_log``) and converts to
:class:`study.core.results.Estimate` for the results file.

Conventions
-----------
- Means: Welch's unequal-variance t-test (Welch-Satterthwaite degrees of freedom), or a normal
  reference with ``reference="z"``.
- Proportions: z-test. ``pooled=False`` (default): unpooled variance for test and interval.
  ``pooled=True``: pooled variance for the p-value, unpooled Wald interval (the convention of R's
  ``prop.test``). ``continuity=True`` subtracts ``0.5 * (1/n_c + 1/n_t)`` from ``|difference|`` for
  the p-value and widens the interval by as much; the lift interval is not corrected.
- Ratio metrics (e.g. spend per order, randomized by customer): delta-method variance of each
  arm's ratio of sums, Welch reference.
- Relative lift ``treatment / control - 1``: delta method on ``log(treatment / control)``, interval
  exponentiated (it cannot cross -100%); under a t reference the degrees of freedom are
  Welch-Satterthwaite's for the log-scale variances.
- ``alternative`` (default ``"two-sided"``): ``"greater"`` or ``"less"`` gives the one-sided p-value
  and the one-sided interval at level ``alpha`` (see :mod:`study.core.inference`); its open bound is
  infinite, or the parameter's own limit (-1 or 1 for a difference in proportions, -100% for a lift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from scipy import stats

from study.ab.sufficient import Moments, RatioMoments
from study.core.inference import Alternative, check_alternative, critical_value, wald_interval, wald_p_value
from study.core.results import Estimate

INF = float("inf")
NAN = float("nan")


@dataclass(frozen=True)
class Effect:
    """One comparison of a treatment arm with the control arm on one metric.

    Attributes
    ----------
    metric : str
    control, treatment : str
        Arm names.
    method : str
        ``code: convention in words``, e.g. ``welch_t: ...``.
    estimand : str
        What ``estimate`` is, e.g. ``difference in means (treatment - control)``.
    n_control, n_treatment : int
        Units used per arm.
    control_value, treatment_value : float
        Each arm's summary (mean, share, ratio, adjusted mean...).
    estimate, se, ci_low, ci_high, p_value : float
        The estimate, its standard error, interval and p-value (``None`` where not defined); two-sided
        unless ``alternative`` says otherwise.
    df : float
        Degrees of freedom of the t reference; ``inf`` for a normal one.
    lift, lift_se, lift_ci_low, lift_ci_high, lift_p_value : float or None
        Relative lift ``treatment_value / control_value - 1`` and its inference.
    lift_method : str
    alpha : float
        1 - confidence level.
    segment : dict
        Segment column -> value, ``{}`` for the whole experiment.
    adjusted_p_values : dict
        Method -> adjusted p-value (see :func:`study.ab.abtest.adjust_p_values`).
    extra : dict
        Method-specific facts (CUPED's unadjusted estimate and variance reduction, cut-offs...).
    label : str
        Words for the metric.
    alternative : {"two-sided", "greater", "less"}
        The test's alternative hypothesis; a one-sided interval has one open bound.
    """

    metric: str
    control: str
    treatment: str
    method: str
    estimand: str
    n_control: int
    n_treatment: int
    control_value: float
    treatment_value: float
    estimate: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    df: float = INF
    lift: float | None = None
    lift_se: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    lift_p_value: float | None = None
    lift_method: str = "not computed"
    alpha: float = 0.05
    segment: dict = field(default_factory=dict)
    adjusted_p_values: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    label: str = ""
    alternative: str = "two-sided"

    @property
    def method_code(self) -> str:
        return self.method.split(":")[0]

    def with_adjusted_p_values(self, **adjusted: float) -> Effect:
        return replace(self, adjusted_p_values={**self.adjusted_p_values, **adjusted})

    def _name(self, what: str) -> str:
        segment = "".join(f"__{k}={v}" for k, v in self.segment.items())
        return f"{self.metric}_{what}_{self.treatment}_vs_{self.control}{segment}"

    def _extra(self, method: str) -> dict:
        return {
            "metric": self.metric, "arms": {"control": self.control, "treatment": self.treatment},
            "n_by_arm": {self.control: self.n_control, self.treatment: self.n_treatment},
            "value_by_arm": {self.control: self.control_value, self.treatment: self.treatment_value},
            "method_code": method.split(":")[0], "segment": self.segment,
            "adjusted_p_values": self.adjusted_p_values, **self.extra,
        }

    def difference_estimate(self) -> Estimate:
        """The estimate as a results-file :class:`~study.core.results.Estimate`."""
        words = self.label or self.metric
        segment = "".join(f", {k} = {v}" for k, v in self.segment.items())
        return Estimate(
            self._name("effect"), f"{words}: {self.estimand}, {self.treatment} vs {self.control}{segment}",
            self.estimate, self.se, self.ci_low, self.ci_high, self.p_value, self.n_control + self.n_treatment,
            self.method, 1 - self.alpha, self._extra(self.method),
        )

    def lift_estimate(self) -> Estimate:
        """The relative lift as an :class:`~study.core.results.Estimate` (value ``nan`` when not defined)."""
        words = self.label or self.metric
        segment = "".join(f", {k} = {v}" for k, v in self.segment.items())
        return Estimate(
            self._name("relative_lift"), f"{words}: relative lift ({self.treatment} / {self.control} - 1){segment}",
            NAN if self.lift is None else self.lift, self.lift_se, self.lift_ci_low, self.lift_ci_high,
            self.lift_p_value, self.n_control + self.n_treatment, self.lift_method, 1 - self.alpha,
            {k: v for k, v in self._extra(self.lift_method).items() if k != "adjusted_p_values"},
        )

    def estimates(self) -> list[Estimate]:
        """The estimate, and the relative lift where one was computed."""
        out = [self.difference_estimate()]
        if self.lift_method != "not computed":
            out.append(self.lift_estimate())
        return out


def welch_df(var_control: float, n_control: float, var_treatment: float, n_treatment: float) -> float:
    """Welch-Satterthwaite degrees of freedom from per-unit variances and counts."""
    a, b = var_control / n_control, var_treatment / n_treatment
    denominator = a * a / (n_control - 1) + b * b / (n_treatment - 1)
    return (a + b) ** 2 / denominator if denominator > 0 else NAN


def _inference(estimate: float, se: float, df: float, alpha: float,
               alternative: Alternative = "two-sided") -> tuple[float | None, float | None, float | None]:
    """Interval and p-value of ``estimate`` with standard error ``se`` (two-sided unless ``alternative``)."""
    if not (se > 0 and math.isfinite(se)) or math.isnan(df):
        return None, None, None
    if check_alternative(alternative) != "two-sided":
        low, high = wald_interval(estimate, se, alpha, df, alternative)
        return low, high, wald_p_value(estimate, se, df, alternative)
    half = critical_value(alpha, df) * se
    return estimate - half, estimate + half, wald_p_value(estimate, se, df)


def sided(method: str, alternative: str) -> str:
    """``method`` with the one-sided alternative named, unchanged for a two-sided test."""
    if check_alternative(alternative) == "two-sided":
        return method
    bound = "[low, inf)" if alternative == "greater" else "(-inf, high]"
    return f"{method}; one-sided, alternative {alternative} (interval {bound})"


def log_lift(control_value: float, treatment_value: float, var_control_value: float, var_treatment_value: float,
             df: float, alpha: float, covariance: float = 0.0, alternative: Alternative = "two-sided") -> dict:
    """Relative lift by the delta method on the log of the ratio of two arm summaries.

    Parameters
    ----------
    control_value, treatment_value : float
        The arms' summaries (means, shares, ratios); both must be positive.
    var_control_value, var_treatment_value : float
        Variances of those summaries (not per unit).
    df : float
        Degrees of freedom of the reference (``inf``: normal).
    alpha : float
    covariance : float
        Covariance of the two summaries (non-zero after regression adjustment).
    alternative : {"two-sided", "greater", "less"}
        One-sided: the open bound of the lift's interval is -100% or infinity.

    Returns
    -------
    dict
        The ``lift*`` fields of :class:`Effect`.
    """
    if not (control_value > 0 and treatment_value > 0):
        return {"lift": NAN, "lift_method": "not defined: an arm's value is not positive"}
    ratio = treatment_value / control_value
    log_var = (var_control_value / control_value**2 + var_treatment_value / treatment_value**2
               - 2 * covariance / (control_value * treatment_value))
    log_se = math.sqrt(max(log_var, 0.0))
    low, high, p = _inference(math.log(ratio), log_se, df, alpha, alternative)
    reference = "normal reference" if math.isinf(df) else f"t reference, {df:.1f} df"
    return {
        "lift": ratio - 1, "lift_se": ratio * log_se,
        "lift_ci_low": None if low is None else math.exp(low) - 1,
        "lift_ci_high": None if high is None else math.exp(high) - 1,
        "lift_p_value": p,
        "lift_method": sided(f"delta_log: delta method on log(treatment / control), interval exponentiated; {reference}",
                             alternative),
    }


def mean_effect(control: Moments, treatment: Moments, *, metric: str = "metric",
                arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05, reference: str = "t",
                lift: bool = True, label: str = "", alternative: Alternative = "two-sided") -> Effect:
    """Difference in means with Welch's standard error, and the relative lift.

    Parameters
    ----------
    control, treatment : Moments
    metric : str
    arms : tuple of str
        Names of the control and treatment arms.
    alpha : float
    reference : {"t", "z"}
        Welch t (Welch-Satterthwaite df) or normal.
    lift : bool
        Compute the relative lift too.
    label : str
    alternative : {"two-sided", "greater", "less"}
        As scipy's ``ttest_ind(equal_var=False, alternative=...)``.

    Returns
    -------
    Effect
        Method ``welch_t`` or ``welch_z``.
    """
    if reference not in ("t", "z"):
        raise ValueError("reference must be 't' or 'z'")
    _need_two(control.n, treatment.n, metric)
    var_c, var_t = control.var, treatment.var
    se = math.sqrt(var_c / control.n + var_t / treatment.n)
    df = welch_df(var_c, control.n, var_t, treatment.n) if reference == "t" else INF
    estimate = treatment.mean - control.mean
    low, high, p = _inference(estimate, se, df, alpha, alternative)
    method = sided("welch_t: Welch's unequal-variance t-test, Welch-Satterthwaite df" if reference == "t"
                   else "welch_z: unequal-variance standard error, normal reference", alternative)
    lift_fields = (_welch_log_lift(control.mean, treatment.mean, var_c, var_t, control.n, treatment.n, reference, alpha,
                                   alternative) if lift else {})
    return Effect(metric, arms[0], arms[1], method, "difference in means (treatment - control)", control.n, treatment.n,
                  control.mean, treatment.mean, estimate, se, low, high, p, df, alpha=alpha, label=label,
                  alternative=alternative, **lift_fields)


def proportion_effect(control: Moments, treatment: Moments, *, metric: str = "metric",
                      arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05, pooled: bool = False,
                      continuity: bool = False, lift: bool = True, label: str = "",
                      alternative: Alternative = "two-sided") -> Effect:
    """Difference in proportions by a z-test, with the convention chosen explicitly.

    Parameters
    ----------
    control, treatment : Moments
        Moments of a 0/1 metric (``sum`` is the number of successes).
    metric : str
    arms : tuple of str
    alpha : float
    pooled : bool
        Pooled variance for the p-value (the test of equal proportions); the interval is always the
        unpooled Wald interval.
    continuity : bool
        Continuity correction ``0.5 * (1/n_c + 1/n_t)`` on the p-value and the interval.
    lift : bool
    label : str
    alternative : {"two-sided", "greater", "less"}
        One-sided: as statsmodels' ``proportions_ztest`` (pooled) or ``test_proportions_2indep``
        (unpooled Wald); the continuity correction moves the difference towards zero, never past it.

    Returns
    -------
    Effect
        Method ``z_unpooled``, ``z_pooled``, ``z_unpooled_cc`` or ``z_pooled_cc``.
    """
    for arm, s in zip(arms, (control, treatment)):
        if abs(s.sum - s.sum_sq) > 1e-9 * max(s.n, 1):
            raise ValueError(f"'{metric}' in arm {arm} is not a 0/1 metric (sum {s.sum:g} != sum of squares {s.sum_sq:g})")
    _need_two(control.n, treatment.n, metric)
    n_c, n_t = control.n, treatment.n
    p_c, p_t = control.mean, treatment.mean
    estimate = p_t - p_c
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    if pooled:
        p = (control.sum + treatment.sum) / (n_c + n_t)
        test_se = math.sqrt(p * (1 - p) * (1 / n_c + 1 / n_t))
    else:
        test_se = se
    correction = 0.5 * (1 / n_c + 1 / n_t) if continuity else 0.0
    if check_alternative(alternative) != "two-sided":
        low, high, p_value = _one_sided_proportion(estimate, se, test_se, correction, alpha, alternative)
    else:
        p_value = float(2 * stats.norm.sf(max(abs(estimate) - correction, 0.0) / test_se)) if test_se > 0 else None
        half = critical_value(alpha) * se + correction
        low, high = (max(estimate - half, -1.0), min(estimate + half, 1.0)) if se > 0 else (None, None)
    code = f"z_{'pooled' if pooled else 'unpooled'}{'_cc' if continuity else ''}"
    words = (f"{code}: z-test, p-value from the {'pooled' if pooled else 'unpooled'} variance"
             f"{', continuity correction 0.5*(1/n_c + 1/n_t)' if continuity else ''}; interval Wald with unpooled variance"
             f"{', widened by the correction' if continuity else ''}")
    lift_fields = log_lift(p_c, p_t, p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t, INF, alpha,
                           alternative=alternative) if lift else {}
    return Effect(metric, arms[0], arms[1], sided(words, alternative), "difference in proportions (treatment - control)",
                  n_c, n_t, p_c, p_t, estimate, se, low, high, p_value, INF, alpha=alpha, label=label,
                  alternative=alternative, **lift_fields)


def _one_sided_proportion(estimate: float, se: float, test_se: float, correction: float, alpha: float,
                          alternative: str) -> tuple[float | None, float | None, float | None]:
    """One-sided interval (open side at the difference's limit, 1 or -1) and p-value of a difference in proportions."""
    sign = 1.0 if alternative == "greater" else -1.0
    # The correction pulls the difference towards zero on the tested side only, and never across it.
    shrunk = sign * max(sign * estimate - correction, 0.0) if sign * estimate > 0 else estimate
    p_value = wald_p_value(shrunk, test_se, None, alternative) if test_se > 0 else None
    if not se > 0:
        return None, None, p_value
    low, high = wald_interval(estimate, se, alpha, None, alternative)
    return max(low - correction, -1.0), min(high + correction, 1.0), p_value


def ratio_effect(control: RatioMoments, treatment: RatioMoments, *, metric: str = "metric",
                 arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05, reference: str = "t",
                 lift: bool = True, label: str = "", alternative: Alternative = "two-sided") -> Effect:
    """Difference in a ratio metric (sum of numerator / sum of denominator) by the delta method.

    Each arm's ratio ``R = mean(num) / mean(den)`` has variance
    ``(var(num) - 2 R cov(num, den) + R**2 var(den)) / (n mean(den)**2)`` (sample moments,
    denominator ``n - 1``); the arms are independent.

    Parameters
    ----------
    control, treatment : RatioMoments
    metric : str
    arms : tuple of str
    alpha : float
    reference : {"t", "z"}
        Welch-Satterthwaite t on the per-unit delta variances, or normal.
    lift : bool
    label : str
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    Effect
        Method ``delta_ratio_welch_t`` or ``delta_ratio_z``.
    """
    _need_two(control.n, treatment.n, metric)
    unit_var = {}
    for arm, s in zip(arms, (control, treatment)):
        if not s.sum_den > 0:
            raise ValueError(f"'{metric}' in arm {arm}: the denominator's sum is not positive")
        r, mean_den = s.ratio, s.sum_den / s.n
        unit_var[arm] = (s.numerator.var - 2 * r * s.cov + r * r * s.denominator.var) / mean_den**2
    var_c, var_t = unit_var[arms[0]], unit_var[arms[1]]
    se = math.sqrt(var_c / control.n + var_t / treatment.n)
    df = welch_df(var_c, control.n, var_t, treatment.n) if reference == "t" else INF
    estimate = treatment.ratio - control.ratio
    low, high, p = _inference(estimate, se, df, alpha, alternative)
    code = "delta_ratio_welch_t" if reference == "t" else "delta_ratio_z"
    reference_words = "Welch t reference" if reference == "t" else "normal reference"
    method = sided(f"{code}: ratio of sums per arm, delta-method variance, {reference_words}", alternative)
    lift_fields = (_welch_log_lift(control.ratio, treatment.ratio, var_c, var_t, control.n, treatment.n, reference, alpha,
                                   alternative) if lift else {})
    return Effect(metric, arms[0], arms[1], method, "difference in ratios (treatment - control)", control.n, treatment.n,
                  control.ratio, treatment.ratio, estimate, se, low, high, p, df, alpha=alpha, label=label,
                  alternative=alternative, **lift_fields)


def _welch_log_lift(control_value: float, treatment_value: float, var_c: float, var_t: float, n_c: int, n_t: int,
                    reference: str, alpha: float, alternative: Alternative = "two-sided") -> dict:
    """Relative lift of two arm summaries with per-unit variances ``var_c``, ``var_t``: the log-scale
    Welch df for a t reference (normal when a summary is zero), then :func:`log_lift`."""
    lift_df = (welch_df(var_c / control_value**2, n_c, var_t / treatment_value**2, n_t)
               if reference == "t" and control_value and treatment_value else INF)
    return log_lift(control_value, treatment_value, var_c / n_c, var_t / n_t, lift_df, alpha, alternative=alternative)


def _need_two(n_control: int, n_treatment: int, metric: str) -> None:
    if n_control < 2 or n_treatment < 2:
        raise ValueError(f"'{metric}': need at least 2 units per arm, got control {n_control}, treatment {n_treatment}")
