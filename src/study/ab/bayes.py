"""Bayesian summary of a difference under a normal approximation: chance to win, expected loss, credible interval.

The likelihood of the true difference is normal, centred on the estimate with its standard error
(the same approximation as the z-test). With a flat prior the posterior is that normal itself; with
a normal prior ``N(m, v)`` it is the precision-weighted combination. This is the model of
GrowthBook's ``gbstats`` (``EffectBayesianABTest``), whose numbers the tests reproduce.

From the posterior:

- chance to win: ``P(difference > 0)`` (``P(difference < 0)`` when lower is better);
- expected loss (risk) of each choice: what one expects to give up by shipping it, in the units of
  the difference: choosing control loses ``E[max(difference, 0)]``, choosing treatment loses
  ``E[max(-difference, 0)]`` (swapped when lower is better);
- an equal-tailed credible interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from study.core.inference import critical_value
from study.core.results import Skipped


@dataclass(frozen=True)
class NormalPrior:
    """A normal prior on the difference, on the same scale as the estimate.

    Attributes
    ----------
    mean : float
    variance : float
        ``inf`` (the default) is the flat, improper prior: the data alone.
    """

    mean: float = 0.0
    variance: float = math.inf

    @property
    def flat(self) -> bool:
        return math.isinf(self.variance)

    def describe(self) -> str:
        if self.flat:
            return "flat (improper) prior: the posterior is the normal likelihood of the data alone"
        return f"normal prior with mean {self.mean:g} and standard deviation {math.sqrt(self.variance):g}"


@dataclass(frozen=True)
class BayesSummary:
    """Posterior summary of a difference.

    Attributes
    ----------
    estimand : str
        What the difference is (e.g. ``relative lift (treatment / control - 1)``).
    estimate, se : float
        The data's estimate and standard error.
    prior : NormalPrior
    posterior_mean, posterior_sd : float
    alpha : float
        The credible interval holds ``1 - alpha`` of the posterior.
    credible_low, credible_high : float
    chance_to_win : float
        Posterior probability that the treatment is better.
    risk_control, risk_treatment : float
        Expected loss of choosing control, of choosing treatment (units of the difference).
    lower_is_better : bool
    """

    estimand: str
    estimate: float
    se: float
    prior: NormalPrior
    posterior_mean: float
    posterior_sd: float
    alpha: float
    credible_low: float
    credible_high: float
    chance_to_win: float
    risk_control: float
    risk_treatment: float
    lower_is_better: bool = False

    def describe(self) -> str:
        """One paragraph stating the prior, the posterior and the decision quantities."""
        better = "lower" if self.lower_is_better else "higher"
        level = f"{100 * (1 - self.alpha):g}%"
        return (f"{self.estimand}: {self.prior.describe()}. Posterior normal, mean {self.posterior_mean:.4g}, "
                f"sd {self.posterior_sd:.4g}; {level} credible interval [{self.credible_low:.4g}, {self.credible_high:.4g}]. "
                f"Chance that treatment is better ({better} is better): {self.chance_to_win:.1%}. "
                f"Expected loss if treatment is chosen: {self.risk_treatment:.4g}; if control is chosen: {self.risk_control:.4g}.")


def normal_posterior(estimate: float, se: float, prior: NormalPrior | None = None) -> tuple[float, float]:
    """Posterior mean and sd of a difference with normal likelihood ``N(estimate, se**2)``."""
    if not (se > 0 and math.isfinite(se)):
        raise ValueError(f"the standard error must be positive and finite, not {se}")
    prior = prior or NormalPrior()
    if prior.flat:
        return float(estimate), float(se)
    if not prior.variance > 0:
        raise ValueError(f"the prior variance must be positive, not {prior.variance}")
    precision = 1 / se**2 + 1 / prior.variance
    mean = (estimate / se**2 + prior.mean / prior.variance) / precision
    return float(mean), float(math.sqrt(1 / precision))


def expected_positive_part(mean: float, sd: float) -> float:
    """``E[max(X, 0)]`` for ``X ~ N(mean, sd**2)``: ``mean Phi(mean/sd) + sd phi(mean/sd)``."""
    z = mean / sd
    return float(mean * stats.norm.cdf(z) + sd * stats.norm.pdf(z))


def bayes_summary(estimate: float, se: float, *, prior: NormalPrior | None = None, alpha: float = 0.05,
                  lower_is_better: bool = False, estimand: str = "difference (treatment - control)") -> BayesSummary:
    """Posterior, chance to win, expected loss of each choice and a credible interval.

    Parameters
    ----------
    estimate, se : float
        Difference (or relative lift) and its standard error, e.g. from
        :func:`study.ab.abstats.mean_effect` with ``reference="z"`` or :func:`relative_difference`.
    prior : NormalPrior, optional
        On the scale of ``estimate``; flat when omitted.
    alpha : float
        One minus the credible level.
    lower_is_better : bool
        For metrics where a decrease is good (handling time, complaints).
    estimand : str
        Words for the difference.

    Returns
    -------
    BayesSummary
    """
    prior = prior or NormalPrior()
    mean, sd = normal_posterior(estimate, se, prior)
    half = critical_value(alpha) * sd
    gain = expected_positive_part(mean, sd)   # what control gives up when treatment is really better
    loss = expected_positive_part(-mean, sd)  # what treatment gives up when control is really better
    above = float(stats.norm.sf(0.0, mean, sd))
    if lower_is_better:
        chance, risk_control, risk_treatment = 1 - above, loss, gain
    else:
        chance, risk_control, risk_treatment = above, gain, loss
    return BayesSummary(estimand, float(estimate), float(se), prior, mean, sd, alpha, mean - half, mean + half,
                        float(chance), risk_control, risk_treatment, lower_is_better)


def relative_difference(control_mean: float, control_var: float, n_control: int, treatment_mean: float,
                        treatment_var: float, n_treatment: int) -> tuple[float, float]:
    """Relative lift ``treatment / control - 1`` and its delta-method standard error on the linear scale.

    Parameters
    ----------
    control_mean, treatment_mean : float
    control_var, treatment_var : float
        Per-unit variances (for a share ``p``: ``p (1 - p)``).
    n_control, n_treatment : int

    Returns
    -------
    tuple of float
        ``(lift, se)`` with ``se**2 = v_t / (n_t c**2) + v_c t**2 / (n_c c**4)``: gbstats' relative
        scale. (The interval of :mod:`study.ab.abstats` is on the log scale instead, which keeps it
        above -100%; a normal posterior needs the linear one.)
    """
    if control_mean == 0:
        raise ValueError("the control mean is zero: no relative lift")
    lift = (treatment_mean - control_mean) / control_mean
    var = treatment_var / (n_treatment * control_mean**2) + control_var * treatment_mean**2 / (n_control * control_mean**4)
    return float(lift), float(math.sqrt(var))


def bayes_table(effects, primary_only: bool = True, prior: NormalPrior | None = None):
    """A Bayesian reading of each comparison (of the primary metric when ``primary_only``): the chance
    the treatment is better in the metric's better direction, the expected loss of each choice and a
    credible interval, under a flat prior (or ``prior``) and a normal approximation.

    Parameters
    ----------
    effects : list of study.ab.abstats.Effect
        Whole-experiment comparisons; ``extra.role`` and ``extra.better`` from :mod:`study.ab.roles`.

    Returns
    -------
    pandas.DataFrame or study.core.results.Skipped
    """
    lines = []
    for e in effects:
        if e.segment or not (e.se and math.isfinite(e.se) and e.se > 0) or (primary_only and e.extra.get("role") != "primary"):
            continue
        reading = bayes_summary(e.estimate, e.se, prior=prior, alpha=e.alpha, lower_is_better=e.extra.get("better") == "lower")
        lines.append({"metric": e.label or e.metric, "comparison": f"{e.treatment} vs {e.control}",
                      "chance treatment is better": reading.chance_to_win,
                      "expected loss choosing treatment": reading.risk_treatment,
                      "expected loss choosing control": reading.risk_control,
                      "credible low": reading.credible_low, "credible high": reading.credible_high,
                      "prior": reading.prior.describe()})
    if not lines:
        return Skipped("Bayesian reading", "no comparison of the primary metric has a standard error")
    return pd.DataFrame(lines).set_index(["metric", "comparison"])
