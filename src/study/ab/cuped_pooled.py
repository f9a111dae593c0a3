"""CUPED with one pooled theta, for means and for ratio metrics, from second-order sums.

The convention of tea-tasting (``Mean(..., covariate=...)``, ``RatioOfMeans(..., numer_covariate=...,
denom_covariate=...)``) and of gbstats' regression-adjusted statistics:

- ``theta = cov(y, x) / var(x)`` over the units of both arms taken together (the between-arm
  difference included), with ``y`` and ``x`` the metric and its pre-period covariate; for a ratio
  metric, the delta-method covariance of the metric's ratio with the covariate's ratio over the
  delta-method variance of the covariate's ratio.
- Each arm's adjusted value is ``value - theta * (covariate value of the arm - covariate value of
  both arms)``; each arm's per-unit variance is that of ``y - theta x`` (delta method for ratios),
  with theta treated as known.
- The arms are independent: Welch's standard error and Welch-Satterthwaite df (or a normal
  reference); the relative lift on the log scale as for an unadjusted mean.

Beside :func:`study.ab.cuped.cuped_effect` (the regression's within-arm slope with an HC1
sandwich), the two estimates differ by ``(theta_ols - theta_pooled) * (difference of the arms'
covariate means)``, which shrinks as ``1/n``: a small fraction of a standard error.
"""

from __future__ import annotations

import math

import numpy as np

from study.ab.abstats import (
    INF,
    Effect,
    _inference,
    _need_two,
    _welch_log_lift,
    mean_effect,
    ratio_effect,
    sided,
    welch_df,
)
from study.ab.cuped import AdjustedEffect
from study.ab.sufficient import CovariateMoments, RatioCovariateMoments
from study.core.inference import Alternative


def _arm_moments(s: CovariateMoments) -> tuple[float, float, float, float, float]:
    """Means of x and y (about the origin), and var(x), var(y), cov(x, y) with denominator ``n - 1``."""
    n = s.n
    return (s.sum_x / n, s.sum_y / n, (s.sum_x2 - s.sum_x**2 / n) / (n - 1), (s.sum_y2 - s.sum_y**2 / n) / (n - 1),
            (s.sum_xy - s.sum_x * s.sum_y / n) / (n - 1))


def pooled_cuped_effect(control: CovariateMoments, treatment: CovariateMoments, *, metric: str = "metric",
                        covariate: str = "covariate", arms: tuple[str, str] = ("control", "treatment"),
                        alpha: float = 0.05, reference: str = "t", lift: bool = True, label: str = "",
                        alternative: Alternative = "two-sided") -> AdjustedEffect:
    """CUPED difference in means with one theta pooled over both arms (tea-tasting's and gbstats' form).

    Parameters
    ----------
    control, treatment : CovariateMoments
        Sums of the metric and its covariate over the units where both are present; only the
        second-order sums are used.
    metric, covariate : str
        Names, for the output.
    arms : tuple of str
    alpha : float
    reference : {"t", "z"}
        Welch t (Welch-Satterthwaite df of the adjusted variances) or normal.
    lift : bool
        Relative lift of the adjusted means (log scale, the arms independent).
    label : str
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    AdjustedEffect
        ``adjusted`` has method ``cuped_pooled_welch_t`` or ``cuped_pooled_z``.
    """
    if control.origin != treatment.origin:
        raise ValueError("control and treatment sums were taken about different origins")
    if reference not in ("t", "z"):
        raise ValueError("reference must be 't' or 'z'")
    _need_two(control.n, treatment.n, metric)
    x_all, _, var_x_all, _, cov_all = _arm_moments(control + treatment)
    if not var_x_all > 0:
        raise ValueError(f"'{metric}': covariate '{covariate}' does not vary")
    theta = cov_all / var_x_all
    values, unit_vars, weighted = [], [], [0.0, 0.0]
    for s in (control, treatment):
        x_bar, y_bar, var_x, var_y, cov = _arm_moments(s)
        values.append(y_bar - theta * (x_bar - x_all) + control.origin[1])
        unit_vars.append(var_y + theta * theta * var_x - 2 * theta * cov)
        weighted[0] += (s.n - 1) * unit_vars[-1]
        weighted[1] += (s.n - 1) * var_y
    unadjusted = mean_effect(control.metric, treatment.metric, metric=metric, arms=arms, alpha=alpha,
                             reference=reference, lift=lift, label=label, alternative=alternative)
    code = "cuped_pooled_welch_t" if reference == "t" else "cuped_pooled_z"
    method = (f"{code}: CUPED with pre-period {covariate}, theta = cov / var of both arms pooled (treated as known), "
              f"variance of metric - theta * covariate per arm, {'Welch t reference' if reference == 't' else 'normal reference'}")
    return _adjusted_effect(values, unit_vars, (control.n, treatment.n), theta, unadjusted, weighted, method,
                            "CUPED-adjusted difference in means (treatment - control)", metric, covariate, arms, alpha,
                            reference, lift, label, alternative)


def ratio_cuped_effect(control: RatioCovariateMoments, treatment: RatioCovariateMoments, *, metric: str = "metric",
                       covariate: str = "covariate", arms: tuple[str, str] = ("control", "treatment"),
                       alpha: float = 0.05, reference: str = "t", lift: bool = True, label: str = "",
                       alternative: Alternative = "two-sided") -> AdjustedEffect:
    """CUPED for a ratio metric (e.g. CSAT per answered survey) with a pre-period ratio covariate.

    With ``m = (num, den, covariate num, covariate den)`` per unit, each arm's ratios
    ``R = mean(num) / mean(den)`` and ``Q = mean(cnum) / mean(cden)`` have delta-method gradients
    ``a = (1, -R, 0, 0) / mean(den)`` and ``b = (0, 0, 1, -Q) / mean(cden)``; ``theta = a' S b / b' S b``
    from the means and covariance ``S`` of both arms together, the arm's adjusted ratio is
    ``R - theta (Q - Q_both)`` and its per-unit variance ``(a - theta b)' S_arm (a - theta b)``:
    tea-tasting's ``RatioOfMeans`` with covariates.

    Parameters
    ----------
    control, treatment : RatioCovariateMoments
    metric, covariate : str
        Names, for the output.
    arms : tuple of str
    alpha : float
    reference : {"t", "z"}
    lift : bool
    label : str
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    AdjustedEffect
        ``adjusted`` has method ``cuped_ratio_welch_t`` or ``cuped_ratio_z``; ``unadjusted`` is
        :func:`study.ab.abstats.ratio_effect` on the same units.
    """
    if reference not in ("t", "z"):
        raise ValueError("reference must be 't' or 'z'")
    _need_two(control.n, treatment.n, metric)
    for arm, s in zip(arms, (control, treatment)):
        if not (s.sum_den > 0 and s.sum_cden > 0):
            raise ValueError(f"'{metric}' in arm {arm}: a denominator's sum is not positive")

    def gradients(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r, q = means[0] / means[1], means[2] / means[3]
        return np.array([1.0, -r, 0.0, 0.0]) / means[1], np.array([0.0, 0.0, 1.0, -q]) / means[3]

    means_all, cov_all = (control + treatment).means_and_covariance()
    a_all, b_all = gradients(means_all)
    covariate_var = float(b_all @ cov_all @ b_all)
    if not covariate_var > 0:
        raise ValueError(f"'{metric}': covariate ratio '{covariate}' does not vary")
    theta = float(a_all @ cov_all @ b_all) / covariate_var
    q_all = means_all[2] / means_all[3]
    values, unit_vars, weighted = [], [], [0.0, 0.0]
    for s in (control, treatment):
        means, cov = s.means_and_covariance()
        a, b = gradients(means)
        values.append(means[0] / means[1] - theta * (means[2] / means[3] - q_all))
        unit_vars.append(float((a - theta * b) @ cov @ (a - theta * b)))
        weighted[0] += (s.n - 1) * unit_vars[-1]
        weighted[1] += (s.n - 1) * float(a @ cov @ a)
    unadjusted = ratio_effect(control.ratio_moments, treatment.ratio_moments, metric=metric, arms=arms, alpha=alpha,
                              reference=reference, lift=lift, label=label, alternative=alternative)
    code = "cuped_ratio_welch_t" if reference == "t" else "cuped_ratio_z"
    method = (f"{code}: CUPED of a ratio of sums with the pre-period ratio {covariate}, delta-method theta from both "
              f"arms pooled (treated as known), {'Welch t reference' if reference == 't' else 'normal reference'}")
    return _adjusted_effect(values, unit_vars, (control.n, treatment.n), theta, unadjusted, weighted, method,
                            "CUPED-adjusted difference in ratios (treatment - control)", metric, covariate, arms, alpha,
                            reference, lift, label, alternative)


def _adjusted_effect(values: list[float], unit_vars: list[float], counts: tuple[int, int], theta: float,
                     unadjusted: Effect, weighted: list[float], method: str, estimand: str, metric: str,
                     covariate: str, arms: tuple[str, str], alpha: float, reference: str, lift: bool, label: str,
                     alternative: Alternative) -> AdjustedEffect:
    """Welch inference on two independent adjusted arm values, with the unadjusted effect beside them;
    ``weighted`` holds the arms' (n - 1)-weighted unit variances, adjusted and not, for the pooled SDs."""
    (n_c, n_t), (var_c, var_t) = counts, unit_vars
    sds = tuple(math.sqrt(max(w, 0.0) / (n_c + n_t - 2)) for w in weighted)
    se = math.sqrt(max(var_c / n_c + var_t / n_t, 0.0))
    df = welch_df(var_c, n_c, var_t, n_t) if reference == "t" else INF
    estimate = values[1] - values[0]
    low, high, p = _inference(estimate, se, df, alpha, alternative)
    reduction = 1 - se**2 / unadjusted.se**2 if unadjusted.se else math.nan
    lift_fields = _welch_log_lift(values[0], values[1], var_c, var_t, n_c, n_t, reference, alpha, alternative) if lift else {}
    side_by_side = {
        "covariate": covariate, "theta": theta, "variance_reduction": reduction,
        "unadjusted": {"estimate": unadjusted.estimate, "se": unadjusted.se, "ci_low": unadjusted.ci_low,
                       "ci_high": unadjusted.ci_high, "p_value": unadjusted.p_value, "method": unadjusted.method_code},
    }
    if alternative != "two-sided":
        side_by_side["alternative"] = alternative
    adjusted = Effect(metric, arms[0], arms[1], sided(method, alternative), estimand, n_c, n_t, values[0], values[1],
                      estimate, se, low, high, p, df, alpha=alpha, label=label, extra=side_by_side,
                      alternative=alternative, **lift_fields)
    return AdjustedEffect(adjusted, unadjusted, theta, reduction, sds[0], sds[1])
