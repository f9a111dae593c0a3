"""E-values: how strong a hidden confounder would have to be to explain away a ratio (VanderWeele & Ding 2017).

VanderWeele, T. J. and Ding, P. (2017), "Sensitivity analysis in observational research: introducing
the E-value", *Annals of Internal Medicine* 167(4), 268-274; the conventions of their R package
``EValue`` (``evalues.RR``, ``evalues.OR``, ``evalues.HR``).

The E-value of a risk ratio ``RR > 1`` is ``RR + sqrt(RR (RR - 1))``: the smallest risk ratio that a
confounder would need with both the exposure and the outcome, above the measured controls, to move
the true ratio to 1; a ratio below 1 is inverted first. The E-value of the interval is that of its
limit closest to 1, and 1 when the interval includes 1. With ``true`` other than 1, the question is
how strong a confounder would have to be to move the ratio to ``true`` (``RR / true`` in the formula).

Other measures are first converted to an (approximate) risk ratio, as Table 2 of the paper:

- odds ratio: ``RR ≈ OR`` for a rare outcome (below about 15% at the end of follow-up), ``RR ≈ sqrt(OR)``
  for a common one;
- hazard ratio: ``RR ≈ HR`` for a rare outcome, ``RR ≈ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` for a
  common one;
- risk difference (or a logit's average marginal effect) with a baseline risk ``p0``:
  ``RR = (p0 + RD) / p0``, each interval limit likewise. This treats ``p0`` as the risk of the less
  exposed and as known (no uncertainty of its own), so it is an approximation: ``EValue``'s exact
  ``evalues.RD`` needs the two-by-two counts that a regression on a continuous exposure does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

RARE_BELOW = 0.15  # EValue's rule of thumb: an outcome below 15% at the end of follow-up counts as rare


def evalue(rr: float, true: float = 1.0) -> float:
    """E-value of one risk ratio: ``RR + sqrt(RR (RR - 1))`` with ``RR`` (relative to ``true``) above 1."""
    if not (rr > 0 and true > 0) or math.isinf(rr):
        raise ValueError(f"an E-value needs a positive, finite risk ratio, not {rr}")
    ratio = rr / true
    ratio = 1 / ratio if ratio < 1 else ratio
    return float(ratio + math.sqrt(ratio * (ratio - 1)))


def rr_from_or(odds_ratio: float, rare: bool) -> float:
    """Risk ratio from an odds ratio: itself for a rare outcome, its square root for a common one."""
    return float(odds_ratio if rare else math.sqrt(odds_ratio))


def rr_from_hr(hazard_ratio: float, rare: bool) -> float:
    """Risk ratio from a hazard ratio: itself for a rare outcome, VanderWeele's conversion for a common one."""
    if rare:
        return float(hazard_ratio)
    return float((1 - 0.5 ** math.sqrt(hazard_ratio)) / (1 - 0.5 ** math.sqrt(1 / hazard_ratio)))


def rr_from_rd(risk_difference: float, baseline: float) -> float:
    """Risk ratio ``(p0 + RD) / p0`` from a risk difference and the baseline risk ``p0`` (module docstring)."""
    if not 0 < baseline < 1:
        raise ValueError(f"the baseline risk must lie strictly between 0 and 1, not {baseline}")
    if not 0 < baseline + risk_difference:
        raise ValueError(f"a risk difference of {risk_difference} from a baseline risk of {baseline} is not a risk")
    return float((baseline + risk_difference) / baseline)


@dataclass(frozen=True)
class EValues:
    """E-values of an estimate and its interval (``EValue``'s ``evalues.*`` output).

    Attributes
    ----------
    rr, rr_low, rr_high : float
        The estimate and interval limits as risk ratios (after any conversion).
    point : float
        E-value of the estimate.
    limit : float or None
        E-value of the interval limit closest to ``true`` (1 when the interval includes it);
        ``None`` without an interval.
    measure : str
        What was converted: ``RR``, ``OR``, ``HR`` or ``RD``.
    conversion : str
        The conversion used, in words.
    """

    rr: float
    rr_low: float | None
    rr_high: float | None
    point: float
    limit: float | None
    measure: str
    conversion: str

    def to_dict(self) -> dict:
        return {"rr": self.rr, "rr_low": self.rr_low, "rr_high": self.rr_high, "evalue": self.point,
                "evalue_limit": self.limit, "measure": self.measure, "conversion": self.conversion}


def evalues(estimate: float, low: float | None = None, high: float | None = None, measure: str = "RR",
            rare: bool | None = None, baseline: float | None = None, true: float = 1.0) -> EValues:
    """E-values of an estimate and its confidence interval.

    Parameters
    ----------
    estimate, low, high : float
        The estimate and its interval on the measure's own scale (a ratio, or a risk difference
        for ``RD``).
    measure : {"RR", "OR", "HR", "RD"}
    rare : bool, optional
        Whether the outcome is rare (below 15% at the end of follow-up); required for ``OR`` and ``HR``.
    baseline : float, optional
        Baseline risk ``p0``; required for ``RD``.
    true : float
        The ratio to move the estimate to (1: no effect).

    Returns
    -------
    EValues
    """
    if measure == "RR":
        convert, words = float, "risk ratio as given"
    elif measure in ("OR", "HR"):
        if rare is None:
            raise ValueError(f"an {measure} needs rare=True or rare=False (outcome below or above 15%)")
        to_rr = rr_from_or if measure == "OR" else rr_from_hr
        convert = partial(to_rr, rare=rare)
        words = (f"{measure} taken as a risk ratio (rare outcome)" if rare else
                 "risk ratio = sqrt(OR) (common outcome)" if measure == "OR" else
                 "risk ratio = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (common outcome)")
    elif measure == "RD":
        if baseline is None:
            raise ValueError("a risk difference needs the baseline risk")
        convert = partial(rr_from_rd, baseline=baseline)
        words = f"risk ratio = (p0 + RD) / p0 with baseline risk p0 = {baseline:.4g}"
    else:
        raise ValueError(f"measure must be RR, OR, HR or RD, not {measure!r}")
    rr = convert(estimate)
    rr_low, rr_high = (None if low is None else convert(low)), (None if high is None else convert(high))
    limit = None
    if rr_low is not None and rr_high is not None:
        if rr_low <= true <= rr_high:
            limit = 1.0
        else:
            limit = evalue(rr_low if rr > true else rr_high, true)
    return EValues(rr, rr_low, rr_high, evalue(rr, true), limit, measure, words)
