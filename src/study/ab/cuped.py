"""CUPED / regression adjustment with a pre-period covariate, from sufficient statistics.

The adjusted effect is the coefficient of the arm in the least-squares regression

    metric ~ 1 + treated + (covariate - mean covariate)

fitted to the two arms' units, with its heteroskedasticity-robust HC1 standard error and a t
reference on ``n - 3`` degrees of freedom: the numbers ``statsmodels`` gives for
``OLS(...).fit(cov_type="HC1", use_t=True)``, computed here from per-arm sums only. Its slope
``theta`` is the pooled within-arm slope of the metric on the covariate (CUPED's theta, estimated
without the arm difference). Because the covariate is measured before randomization, the
adjustment cannot bias the effect; it removes the part of the metric's variance the covariate
predicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from study.ab.abstats import Effect, _inference, _need_two, log_lift, mean_effect
from study.ab.sufficient import CovariateMoments


@dataclass(frozen=True)
class AdjustedEffect:
    """A regression-adjusted effect next to the unadjusted one on the same units.

    Attributes
    ----------
    adjusted : Effect
        Method ``cuped_ols_hc1_t``; its ``extra`` carries the unadjusted figures and the variance
        reduction, so the results file shows both.
    unadjusted : Effect
        Welch's t on the same units (``welch_t``).
    theta : float
        Slope of the metric on the covariate (metric units per covariate unit).
    variance_reduction : float
        ``1 - se_adjusted**2 / se_unadjusted**2``: the share of the estimate's variance removed.
        The next experiment needs about ``1 - variance_reduction`` times the units for the same power.
    adjusted_sd, unadjusted_sd : float
        Pooled within-arm SD of the metric after and before adjustment (per unit), for power.
    """

    adjusted: Effect
    unadjusted: Effect
    theta: float
    variance_reduction: float
    adjusted_sd: float
    unadjusted_sd: float


def _residual_square_sums(s: CovariateMoments, k: float, theta: float) -> list[float]:
    """Sum over the arm of ``e**2 * x**j`` for j = 0, 1, 2, with ``e = y - k - theta * x`` (about the origin)."""
    p = s.power_sum
    return [
        p(j, 2) - 2 * k * p(j, 1) - 2 * theta * p(j + 1, 1) + k * k * p(j, 0) + 2 * k * theta * p(j + 1, 0)
        + theta * theta * p(j + 2, 0)
        for j in range(3)
    ]


def cuped_effect(control: CovariateMoments, treatment: CovariateMoments, *, metric: str = "metric",
                 covariate: str = "covariate", arms: tuple[str, str] = ("control", "treatment"), alpha: float = 0.05,
                 lift: bool = True, label: str = "") -> AdjustedEffect:
    """Regression-adjusted (CUPED) difference in means, with the unadjusted one beside it.

    Parameters
    ----------
    control, treatment : CovariateMoments
        Sums of the metric and its covariate, over the units where both are present.
    metric, covariate : str
        Names, for the output.
    arms : tuple of str
    alpha : float
    lift : bool
        Relative lift of the adjusted means (delta method on the log scale, using the sandwich
        covariance of the two adjusted means).
    label : str

    Returns
    -------
    AdjustedEffect
    """
    if control.origin != treatment.origin:
        raise ValueError("control and treatment sums were taken about different origins")
    _need_two(control.n, treatment.n, metric)
    n_c, n_t = control.n, treatment.n
    n = n_c + n_t
    if n <= 3:
        raise ValueError(f"'{metric}': regression adjustment needs more than 3 units")
    x_bar = (control.sum_x + treatment.sum_x) / n
    s_xx = [s.sum_x2 - s.sum_x**2 / s.n for s in (control, treatment)]
    s_xy = [s.sum_xy - s.sum_x * s.sum_y / s.n for s in (control, treatment)]
    s_yy = [s.sum_y2 - s.sum_y**2 / s.n for s in (control, treatment)]
    if not sum(s_xx) > 0:
        raise ValueError(f"'{metric}': covariate '{covariate}' does not vary within the arms")
    theta = sum(s_xy) / sum(s_xx)
    adjusted_means = [s.sum_y / s.n - theta * (s.sum_x / s.n - x_bar) for s in (control, treatment)]

    # Sandwich (Z'Z)^-1 M (Z'Z)^-1 for Z = [1, treated, x - x_bar], from the per-arm sums.
    treated_x = treatment.sum_x - n_t * x_bar
    x_centred_sq = sum(s.sum_x2 - 2 * x_bar * s.sum_x + s.n * x_bar**2 for s in (control, treatment))
    bread = np.linalg.inv(np.array([[n, n_t, 0.0], [n_t, n_t, treated_x], [0.0, treated_x, x_centred_sq]]))
    meat = np.zeros((3, 3))
    for s, treated in ((control, 0.0), (treatment, 1.0)):
        k = s.sum_y / s.n - theta * s.sum_x / s.n
        f0, f1, f2 = _residual_square_sums(s, k, theta)
        e0, e1, e2 = f0, f1 - x_bar * f0, f2 - 2 * x_bar * f1 + x_bar**2 * f0
        meat += np.array([[e0, treated * e0, e1], [treated * e0, treated * e0, treated * e1], [e1, treated * e1, e2]])
    covariance = bread @ meat @ bread * n / (n - 3)

    estimate = adjusted_means[1] - adjusted_means[0]
    se = math.sqrt(covariance[1, 1])
    df = float(n - 3)
    low, high, p = _inference(estimate, se, df, alpha)
    y0 = control.origin[1]
    control_value, treatment_value = adjusted_means[0] + y0, adjusted_means[1] + y0

    unadjusted = mean_effect(control.metric, treatment.metric, metric=metric, arms=arms, alpha=alpha, lift=lift, label=label)
    reduction = 1 - se**2 / unadjusted.se**2 if unadjusted.se else math.nan
    adjusted_sd = math.sqrt(max(sum(s_yy) - theta * sum(s_xy), 0.0) / (n - 3))
    unadjusted_sd = math.sqrt(sum(s_yy) / (n - 2))
    lift_fields = {}
    if lift:
        var_c = covariance[0, 0]
        var_t = covariance[0, 0] + 2 * covariance[0, 1] + covariance[1, 1]
        lift_fields = log_lift(control_value, treatment_value, var_c, var_t, df, alpha, covariance[0, 0] + covariance[0, 1])
        lift_fields["lift_method"] = lift_fields["lift_method"].replace(
            "delta_log:", "delta_log: adjusted means, sandwich covariance;", 1)
    method = (f"cuped_ols_hc1_t: regression adjustment for pre-period {covariate} "
              f"(OLS of the metric on arm and centred covariate, pooled within-arm slope), HC1 standard error, "
              f"t reference with n - 3 df")
    side_by_side = {
        "covariate": covariate, "theta": theta, "variance_reduction": reduction,
        "unadjusted": {"estimate": unadjusted.estimate, "se": unadjusted.se, "ci_low": unadjusted.ci_low,
                       "ci_high": unadjusted.ci_high, "p_value": unadjusted.p_value, "method": unadjusted.method_code},
    }
    adjusted = Effect(metric, arms[0], arms[1], method, "regression-adjusted difference in means (treatment - control)",
                      n_c, n_t, control_value, treatment_value, estimate, se, low, high, p, df, alpha=alpha, label=label,
                      extra=side_by_side, **lift_fields)
    return AdjustedEffect(adjusted, unadjusted, theta, reduction,
                          adjusted_sd, unadjusted_sd)
