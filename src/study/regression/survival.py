"""Time to the next purchase: does a faster reply bring the customer back sooner?

A Cox proportional-hazards model (statsmodels ``PHReg``) of ``days_to_next_purchase``, with a
purchase in the follow-up window as the event and the window's end as censoring, on log2 first
response hours, resolution, reopening and the known confounders. CSAT is left out on purpose: it
lies on the path from speed to purchase and is missing for most tickets, so the hazard ratios are
total effects (as far as the controls remove confounding) and every ticket can be used.

Standard errors are robust and clustered by customer: ``PHReg.fit(groups=...)`` replaces the
model-based covariance with a Huber-White sandwich over the summed score residuals of each group
(no small-sample factor). Tied days use Breslow's method, because statsmodels' score residuals,
and so its robust covariance, are Breslow's; on daily data Efron's method moves the coefficients
by well under one standard error.

A hazard ratio below 1 per doubling means slower replies delay (or forgo) the next purchase. The
simulator draws a purchase with a probability that falls with response time and, for buyers, a
delay that does not depend on it: a cure-type process in which hazards are only roughly
proportional, so the ratio is an average over the window (see ``proportional_hazards``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import Interval, critical_value
from study.core.results import Estimate
from study.data.dataset import TicketData
from study.regression.adjustment import adjustment
from study.regression.fitting import SPEED, formula, model_frame, term_label
from study.stats.cox import BreslowPHReg
from study.stats.design import formula_model

TIME, EVENT = "days_to_next_purchase", "repeat_purchase"
HORIZONS = [30, 60, 90]  # days at which the share of customers who bought again is tabled
NAMES = {
    SPEED: ("repurchase_hazard_ratio_per_doubling", "Hazard ratio of a next purchase per doubling of first response time"),
    "resolved": ("repurchase_hazard_ratio_resolved", "Hazard ratio of a next purchase for a resolved case"),
    "reopened": ("repurchase_hazard_ratio_reopened", "Hazard ratio of a next purchase for a reopened case"),
}


@dataclass
class TimeToNextPurchase:
    """Cox model of the time to the next purchase, or why it was skipped.

    Attributes
    ----------
    hazard_ratios : list of Estimate
        Per doubling of first response time, for a resolved case and (where present) for a
        reopened one. ``value`` and the interval are on the ratio scale (interval = exp of the
        Wald interval of the log ratio); ``se`` is the delta-method SE of the ratio; ``extra``
        holds ``log_hazard_ratio`` and ``se_log_hazard_ratio``.
    table : pandas.DataFrame
        Every term's hazard ratio, interval and p-value.
    bought_by : pandas.DataFrame
        Kaplan-Meier share of tickets followed by a purchase within 30, 60 and 90 days, by
        first-response band, with pointwise Greenwood intervals (not clustered; descriptive).
    proportional_hazards : pandas.DataFrame
        Per term, the correlation of the Schoenfeld residuals with the rank of the purchase day
        and its p-value: a drift means the ratio changes over the window. With tens of thousands
        of purchases a negligible drift is "significant"; read the size. Not clustered.
    controls, flags : list of str
    ledger : RowLedger
    fit : statsmodels PHRegResults or None
    notes : list of str
    skipped : str or None
        Why the model was not fitted (e.g. the data has no ``days_to_next_purchase``).
    """

    hazard_ratios: list[Estimate]
    table: pd.DataFrame
    bought_by: pd.DataFrame
    proportional_hazards: pd.DataFrame
    controls: list[str]
    flags: list[str]
    ledger: RowLedger
    fit: object
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def estimates(self) -> list[Estimate]:
        return list(self.hazard_ratios)

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``."""
        return next(e for e in self.estimates if e.name == name)


def _skipped(reason, ledger, flags, controls, notes) -> TimeToNextPurchase:
    empty = pd.DataFrame()
    return TimeToNextPurchase([], empty, empty, empty, controls, flags, ledger, None, notes, reason)


def fit_cox(rows: pd.DataFrame, numeric: list[str], categorical: list[str], cluster: str | None = "customer_id"):
    """Cox model of days to the next purchase with a purchase as the event (Breslow ties).

    Parameters
    ----------
    rows : pandas.DataFrame
        Tickets with no model variable missing.
    numeric, categorical : list of str
        Covariates (see :func:`study.regression.fitting.formula`); no intercept is fitted.
    cluster : str or None
        Column whose values define groups for the robust covariance; ``None`` keeps the
        model-based covariance.

    Returns
    -------
    statsmodels.duration.hazard_regression.PHRegResults
        Of a :class:`study.stats.cox.BreslowPHReg` (statsmodels' ``PHReg`` with vectorized risk sets).
    """
    frame = model_frame(rows, [TIME, EVENT, *numeric, *categorical], cluster)
    model = formula_model(BreslowPHReg, formula(TIME, list(numeric), list(categorical)), frame, drop_intercept=True,
                          status=frame[EVENT].to_numpy(), ties="breslow")
    return model.fit(groups=None if cluster is None else frame["_cluster"].to_numpy())


def _hazard_ratio(fit, term: str, alpha: float, method: str) -> Estimate:
    column = fit.model.exog_names.index(term)
    log_ratio, se_log = float(fit.params[column]), float(fit.bse[column])
    low, high = np.exp(fit.conf_int(alpha=alpha)[column])
    name, label = NAMES[term]
    return Estimate(
        name=name, label=label, value=float(np.exp(log_ratio)), se=float(np.exp(log_ratio) * se_log),
        ci_low=float(low), ci_high=float(high), p_value=float(fit.pvalues[column]), n=int(fit.model.exog.shape[0]),
        method=method, ci_level=1 - alpha, extra={"log_hazard_ratio": log_ratio, "se_log_hazard_ratio": se_log},
        model=str(fit.model.formula), interval=Interval("log_wald", center=float(log_ratio), log_se=float(se_log)),
    )


def _bought_by(rows: pd.DataFrame, alpha: float) -> pd.DataFrame:
    z = critical_value(alpha)
    lines = []
    for band, group in rows.groupby("response_band", observed=True, sort=True):
        curve = SurvfuncRight(group[TIME].to_numpy(dtype=float), group[EVENT].to_numpy(dtype=float))
        for day in HORIZONS:
            at = np.searchsorted(curve.surv_times, day, side="right") - 1
            survival = curve.surv_prob[at] if at >= 0 else 1.0
            se = curve.surv_prob_se[at] if at >= 0 else 0.0
            lines.append({"response band": band, "day": day, "tickets": len(group), "bought again": 1 - survival,
                          "CI low": max(0.0, 1 - survival - z * se), "CI high": min(1.0, 1 - survival + z * se)})
    return pd.DataFrame(lines).set_index(["response band", "day"])


def _proportional_hazards(fit, event: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    residuals = fit.schoenfeld_residuals[event]
    day_rank = stats.rankdata(days[event])
    lines = []
    for column, term in enumerate(fit.model.exog_names):
        test = stats.pearsonr(residuals[:, column], day_rank)
        lines.append({"term": term_label(term), "correlation with purchase day (rank)": float(test.statistic),
                      "p-value": float(test.pvalue)})
    return pd.DataFrame(lines).set_index("term")


def time_to_next_purchase(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> TimeToNextPurchase:
    """Hazard ratios of buying again by speed and resolution, from a Cox model.

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    cluster : str
        Column whose values define groups for the robust covariance.

    Returns
    -------
    TimeToNextPurchase
        With ``skipped`` set, and nothing estimated, when the data has no
        ``days_to_next_purchase`` or no purchase in the window.
    """
    held = adjustment(data)
    flags, controls, notes = held.flags, held.controls, list(held.notes)
    ledger = RowLedger(data.tickets, data.set_aside)
    if not data.has(TIME):
        return _skipped(f"the data has no {TIME} column (or it is empty): time to the next purchase is unknown",
                        ledger, flags, controls, notes)
    rows = ledger.require([TIME, EVENT, SPEED, *flags, *controls])
    reason = degenerate.first(
        degenerate.no_rows(rows, "tickets"), degenerate.bought_again(rows, EVENT), degenerate.no_variation(rows, SPEED),
        degenerate.too_few_clusters(rows, cluster),
    )
    if reason:
        return _skipped(reason, ledger, flags, controls, notes)
    events = int(rows[EVENT].astype(bool).sum())
    terms = 1 + len(flags) + sum(rows[c].nunique() - 1 for c in controls)
    if events <= terms:
        return _skipped(f"{events} purchases in the window, too few for {terms} model terms", ledger, flags, controls, notes)

    fit = fit_cox(rows, [SPEED, *flags], controls, cluster)
    held_fixed = "".join(f" + {term}" for term in [*flags, *controls])
    method = (
        f"Cox proportional hazards (PHReg, Breslow ties) of {TIME}, event {EVENT}, censored at the window's end, "
        f"on log2 response hours{held_fixed}; robust SE clustered by {cluster}; interval exp(Wald interval "
        f"of the log ratio); observational, adjusted, CSAT left out (total effect)"
    )
    ratios = [_hazard_ratio(fit, term, alpha, method) for term in [SPEED, *flags]]
    ci = np.exp(fit.conf_int(alpha=alpha))
    table = pd.DataFrame(
        {"hazard ratio": np.exp(fit.params), "CI low": ci[:, 0], "CI high": ci[:, 1], "p-value": fit.pvalues},
        index=pd.Index([term_label(t) for t in fit.model.exog_names], name="term"),
    )
    event = rows[EVENT].to_numpy(dtype=bool)
    return TimeToNextPurchase(
        ratios, table, _bought_by(rows, alpha), _proportional_hazards(fit, event, rows[TIME].to_numpy(dtype=float)),
        controls, flags, ledger, fit, notes,
    )
