"""Does a Cox model's hazard ratio stay the same over time? The Grambsch-Therneau test, per term.

Under proportional hazards each Schoenfeld residual (a purchase's covariates minus the
hazard-weighted average of those still at risk) has mean zero at every time. Grambsch & Therneau
(1994) scale them, ``s*_k = D V r_k`` (``D`` events, ``V`` the model-based covariance of the
coefficients), so that ``beta + s*_k`` estimates the log hazard ratio at the k-th event time; a
trend of the scaled residuals in a transform ``g`` of time means the ratio changes over time.
For term ``j``, with ``g`` centred,

    ``T_j = (sum_k g_k s*_kj)^2 / (D V_jj sum_k g_k^2)``,  chi-squared with 1 df,

the approximation R's ``cox.zph`` used until survival 3.0 and lifelines'
``proportional_hazard_test`` uses. ``g`` is the rank of the event time (tied days share their
average rank), the transform lifelines recommends.

The size of the change is the least-squares slope of ``s*_j`` on ``g``, times the span of ``g``:
the drift of the log hazard ratio from the first purchase of the window to the last (linear in
the rank of the day), with standard error ``sqrt(D V_jj / sum g_k^2)`` times the span, so that
``T_j = (drift / se)^2``. The test uses the model-based covariance, not the clustered one (as
``cox.zph``): with customers who have several tickets its p-values are somewhat too small, one
more reason to judge a failure by its size too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def grambsch_therneau(fit, names: list[str] | None = None) -> pd.DataFrame:
    """Per-term proportional-hazards test of a fitted Cox model, with the drift of the log ratio.

    Parameters
    ----------
    fit : statsmodels PHRegResults
        One stratum, fitted on the rows of ``fit.model`` (status 1 = event).
    names : list of str, optional
        Row labels, one per coefficient (default: the model's term names).

    Returns
    -------
    pandas.DataFrame
        Indexed by term: ``log hazard ratio`` (the fitted average), ``drift`` (change of the log
        ratio from the first to the last event, linear in rank), ``drift SE``, ``statistic``
        (chi-squared, 1 df) and ``p-value``.
    """
    event = np.asarray(fit.model.status) == 1
    residuals = np.asarray(fit.schoenfeld_residuals)[event]
    covariance = np.linalg.inv(-fit.model.hessian(np.asarray(fit.params)))  # model-based, as cox.zph
    deaths = int(event.sum())
    scaled = deaths * residuals @ covariance
    rank = stats.rankdata(np.asarray(fit.model.endog)[event])
    centred = rank - rank.mean()
    spread = float(centred @ centred)
    span = float(rank.max() - rank.min())
    slope = centred @ scaled / spread
    slope_se = np.sqrt(deaths * np.diag(covariance) / spread)
    statistic = (slope / slope_se) ** 2
    return pd.DataFrame(
        {"log hazard ratio": np.asarray(fit.params, dtype=float), "drift": slope * span, "drift SE": slope_se * span,
         "statistic": statistic, "p-value": stats.chi2.sf(statistic, 1)},
        index=pd.Index(names if names is not None else list(fit.model.exog_names), name="term"),
    )


DRIFT_SHARE = 0.25  # a drift of a quarter of the average log ratio changes what the ratio means
DRIFT_FLOOR = float(np.log(1.02))  # below a 2% change of the ratio over the window, any drift is negligible
HOLDS, FAILS, NEGLIGIBLE = ("holds", "fails: the ratio changes over the window",
                            "holds: the drift is significant but negligible")


def verdict(p_value: float, drift: float, log_ratio: float, alpha: float) -> str:
    """Whether proportional hazards holds for one term, judged by significance and size together.

    Rule: the check *fails* when ``p < alpha`` **and** ``|drift| >= max(DRIFT_FLOOR,
    DRIFT_SHARE * |log ratio|)``: the log hazard ratio moves across the window by at least a quarter
    of its average value, and by at least log(1.02) (a 2% change in the ratio). With tens of
    thousands of purchases a trend far too small to matter is significant; it is called negligible.

    Parameters
    ----------
    p_value, drift : float
        From :func:`grambsch_therneau`.
    log_ratio : float
        The term's fitted log hazard ratio.
    alpha : float

    Returns
    -------
    str
        ``HOLDS``, ``FAILS`` or ``NEGLIGIBLE``.
    """
    if not p_value < alpha:
        return HOLDS
    return FAILS if abs(drift) >= max(DRIFT_FLOOR, DRIFT_SHARE * abs(log_ratio)) else NEGLIGIBLE
