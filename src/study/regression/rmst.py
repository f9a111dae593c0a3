"""Days before the next purchase, without proportional hazards: restricted mean survival time (RMST).

A Cox hazard ratio is an average over the window; when the proportional-hazards check fails for
speed, the ratio changes over the window and one number misdescribes it. The RMST up to the
window's end ``tau`` (``days_to_next_purchase`` runs to the end of the follow-up window) is the
mean number of days of the window before the next purchase, a customer who does not buy again
counting the whole window; differences in it need no proportional hazards.

Three estimates (:mod:`study.stats.rmst` has the formulas):

- **fast minus slow, unadjusted**: Kaplan-Meier RMST of tickets first answered within an hour
  minus that of tickets answered after more than four hours (the two ends of the speed range that
  most data sets populate: about a third of tickets wait more than an hour, few more than four),
  with a standard error from the RMST's influence function summed within customers (their
  tickets are correlated); the unclustered Greenwood-type SE is kept in ``extra``. Descriptive:
  nothing is held fixed.
- **per doubling, adjusted** and **fast minus slow, adjusted**: least squares of the RMST's
  pseudo-observations (Kaplan-Meier over every ticket) on speed (or the fast/slow indicator, among
  those tickets), resolution, reopening and the known confounders, CR1 standard errors clustered by
  customer: the change in mean days with the same controls as the Cox model and CSAT left out
  (total effect). Assumes the mean days are linear in the covariates, and that censoring does not
  depend on them (true of a fixed follow-up window).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate
from study.regression.fitting import SPEED, coefficient, formula, model_frame
from study.stats import rmst as km
from study.stats.design import formula_model
from study.stats.ols import CholeskyOLS

TIME, EVENT = "days_to_next_purchase", "repeat_purchase"
FAST_HOURS, SLOW_HOURS = 1.0, 4.0
MIN_TICKETS = 20  # per group: fewer give a Kaplan-Meier curve of a handful of steps
NAMES = {
    "contrast": "repurchase_rmst_days_fast_minus_slow",
    "per_doubling": "repurchase_rmst_days_per_doubling_adjusted",
    "contrast_adjusted": "repurchase_rmst_days_fast_minus_slow_adjusted",
}


def groups(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the fast (first response within an hour) and slow (after more than four hours) tickets."""
    speed = rows[SPEED].to_numpy(dtype=float)
    return speed <= np.log2(FAST_HOURS), speed > np.log2(SLOW_HOURS)


def window_end(rows: pd.DataFrame) -> float:
    """``tau``: the window's end (the longest follow-up), or the shorter follow-up of the two groups.

    The Kaplan-Meier curve of a group ends at its longest time; integrating past it would invent
    survival, so ``tau`` is the smallest of the groups' longest times when they differ.
    """
    time = rows[TIME].to_numpy(dtype=float)
    fast, slow = groups(rows)
    ends = [time.max()] + [time[mask].max() for mask in (fast, slow) if mask.any()]
    return float(min(ends))


def skip_reason(rows: pd.DataFrame) -> str | None:
    """Why the fast/slow contrast cannot be estimated on ``rows``, or ``None``."""
    fast, slow = groups(rows)
    for mask, words in ((fast, f"first answered within {FAST_HOURS:g} hour"), (slow, f"answered after more than {SLOW_HOURS:g} hours")):
        if mask.sum() < MIN_TICKETS:
            return f"{int(mask.sum())} tickets {words} (at least {MIN_TICKETS} needed for a Kaplan-Meier curve)"
    return None


def _method_tail(tau: float, cluster: str) -> str:
    return (f"restricted mean time to the next purchase up to day {tau:g} (the window's end; a customer who does "
            f"not buy again counts {tau:g} days); SE from the influence function summed within {cluster}")


def contrast(rows: pd.DataFrame, tau: float, alpha: float, cluster: str = "customer_id") -> Estimate:
    """Kaplan-Meier RMST of fast minus slow tickets, in days, SE clustered by ``cluster`` (unadjusted).

    Parameters
    ----------
    rows : pandas.DataFrame
        Tickets with ``days_to_next_purchase``, ``repeat_purchase``, speed and ``cluster``.
    tau : float
        End of the integration (:func:`window_end`).
    alpha : float
    cluster : str

    Returns
    -------
    Estimate
        ``extra``: each group's RMST and tickets, the Greenwood-type SE (not clustered) and ``tau``.
    """
    time = rows[TIME].to_numpy(dtype=float)
    event = rows[EVENT].to_numpy(dtype=bool)
    codes = pd.factorize(rows[cluster])[0]
    fast, slow = groups(rows)
    psi = np.zeros(len(rows))
    parts = {}
    for key, mask, sign in (("fast", fast, 1.0), ("slow", slow, -1.0)):
        curve = km.kaplan_meier(time[mask], event[mask], tau)
        psi[mask] = sign * km.influence(time[mask], event[mask], curve)
        parts[key] = (curve.rmst, km.greenwood_variance(curve), int(mask.sum()))
    value = parts["fast"][0] - parts["slow"][0]
    se = float(np.sqrt(km.clustered_variance(psi, codes)))
    half = critical_value(alpha) * se
    return Estimate(
        name=NAMES["contrast"],
        label=(f"Difference in mean days before the next purchase (of {tau:g}), first response within {FAST_HOURS:g} h "
               f"minus over {SLOW_HOURS:g} h (RMST, unadjusted)"),
        value=float(value), se=se, ci_low=float(value - half), ci_high=float(value + half),
        p_value=wald_p_value(value, se) if se > 0 else None, n=int(fast.sum() + slow.sum()),
        method=f"Kaplan-Meier {_method_tail(tau, cluster)}; normal interval; unadjusted, descriptive", ci_level=1 - alpha,
        extra={"rmst_fast_days": parts["fast"][0], "rmst_slow_days": parts["slow"][0], "tickets_fast": parts["fast"][2],
               "tickets_slow": parts["slow"][2], "se_greenwood": float(np.sqrt(parts["fast"][1] + parts["slow"][1])),
               "tau_days": tau},
        interval=WALD,
    )


def pseudo_values(rows: pd.DataFrame, tau: float) -> np.ndarray:
    """The RMST's pseudo-observations of ``rows`` (Kaplan-Meier over all of them)."""
    return km.pseudo_observations(rows[TIME].to_numpy(dtype=float), rows[EVENT].to_numpy(dtype=bool), tau)


def fit_pseudo(rows: pd.DataFrame, pseudo: np.ndarray, numeric: list[str], controls: list[str],
               cluster: str = "customer_id", extra_columns: dict[str, np.ndarray] | None = None):
    """OLS of pseudo-observations on ``numeric`` (and ``extra_columns``) + ``controls``, CR1 by ``cluster``.

    Returns
    -------
    statsmodels RegressionResultsWrapper
        Its outcome is named ``rmst_pseudo``; ``extra_columns`` enter under their own names.
    """
    known = [c for c in numeric if c not in (extra_columns or {})]
    frame = model_frame(rows, [TIME, *known, *controls], cluster)
    frame["rmst_pseudo"] = pseudo
    for name, values in (extra_columns or {}).items():
        frame[name] = np.asarray(values, dtype=float)
    rhs = formula(TIME, known, controls).split("~", 1)[1].strip()  # checks the names are contract columns
    terms = [*(extra_columns or {}), *([] if rhs == "1" else [rhs])]
    model = formula_model(CholeskyOLS, "rmst_pseudo ~ " + (" + ".join(terms) or "1"), frame)
    return model.fit(cov_type="cluster", cov_kwds={"groups": frame["_cluster"].to_numpy()})


def adjusted(rows: pd.DataFrame, flags: list[str], controls: list[str], tau: float, alpha: float,
             cluster: str = "customer_id") -> list[Estimate]:
    """RMST per doubling of first response time and fast minus slow, adjusted (pseudo-observation regressions).

    Parameters
    ----------
    rows : pandas.DataFrame
    flags, controls : list of str
        Held fixed, as in the Cox model.
    tau : float
    alpha : float
    cluster : str

    Returns
    -------
    list of Estimate
        Per doubling (every ticket) and fast minus slow (the fast and slow tickets only).
    """
    pseudo = pseudo_values(rows, tau)
    held = "".join(f" + {term}" for term in [*flags, *controls])
    tail = (f"least squares of the RMST's pseudo-observations (Kaplan-Meier over every ticket, up to day {tau:g}) on "
            f"{{}}{held}; SE clustered by {cluster} (CR1); no proportional hazards needed; observational, adjusted, "
            "CSAT left out (total effect)")
    per_doubling = fit_pseudo(rows, pseudo, [SPEED, *flags], controls, cluster)
    out = [coefficient(per_doubling, SPEED, NAMES["per_doubling"],
                       f"Change in mean days before the next purchase (of {tau:g}) per doubling of first response time (RMST, adjusted)",
                       tail.format("log2 response hours"), alpha)]
    fast, slow = groups(rows)
    both = fast | slow
    subset = rows[both]
    kept_flags = [f for f in flags if subset[f].nunique() > 1]
    kept_controls = [c for c in controls if subset[c].nunique() > 1]
    indicator = fast[both].astype(float)
    contrast_fit = fit_pseudo(subset, pseudo[both], ["fast_reply", *kept_flags], kept_controls, cluster,
                              extra_columns={"fast_reply": indicator})
    out.append(coefficient(
        contrast_fit, "fast_reply", NAMES["contrast_adjusted"],
        (f"Difference in mean days before the next purchase (of {tau:g}), first response within {FAST_HOURS:g} h minus "
         f"over {SLOW_HOURS:g} h (RMST, adjusted)"),
        tail.format(f"an indicator of a first response within {FAST_HOURS:g} h (against over {SLOW_HOURS:g} h)"), alpha))
    return out
