"""Time to the next purchase: does a faster reply bring the customer back sooner?

A Cox proportional-hazards model (statsmodels ``PHReg``) of ``days_to_next_purchase``, with a
purchase in the follow-up window as the event and the window's end as censoring, on log2 first
response hours, resolution, reopening and the known confounders, and a dummy per agent where there
are at most 200 agents with enough purchases (:mod:`study.regression.agent_terms`; the notes say
when agents are not held fixed; the agent terms are left out of the tables). CSAT is left out on purpose: it
lies on the path from speed to purchase and is missing for most tickets, so the hazard ratios are
total effects (as far as the controls remove confounding) and every ticket can be used.

Standard errors are robust and clustered by customer: ``PHReg.fit(groups=...)`` replaces the
model-based covariance with a Huber-White sandwich over the summed score residuals of each group
(no small-sample factor). Tied days use Breslow's method, because statsmodels' score residuals,
and so its robust covariance, are Breslow's; on daily data Efron's method moves the coefficients
by well under one standard error.

A hazard ratio below 1 per doubling means slower replies delay (or forgo) the next purchase. The
simulator draws a purchase with a probability that falls with response time and, for buyers, a
delay that does not depend on it: a cure-type process in which hazards are not proportional (the
ratio moves away from 1 as the window goes on), so the ratio is an average over the window.

Three things go with the ratio, so that a reader can see what it averages:

- ``proportional_hazards``: per term, the Grambsch-Therneau test on the scaled Schoenfeld residuals
  (rank of the purchase day; :mod:`study.stats.schoenfeld`), the drift of the log ratio over the
  window and a verdict judged by significance *and* size (:func:`study.stats.schoenfeld.verdict`);
- ``periods``: the ratio per doubling within each third of the window (a Cox model per period, on
  the tickets still without a purchase at its start, censored at its end: the same partial
  likelihood as splitting every ticket into episodes with entry times and letting every
  coefficient differ by period);
- ``rmst``: differences in the mean days before the next purchase (restricted mean survival time,
  :mod:`study.regression.rmst`), which need no proportional hazards.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import WALD, Interval, critical_value, wald_interval
from study.core.results import Estimate
from study.data.dataset import TicketData
from study.regression import agent_terms
from study.regression import rmst as restricted_mean
from study.regression.adjustment import adjustment, on_rows
from study.regression.fitting import SPEED, formula, model_frame, term_label
from study.stats import schoenfeld
from study.stats.cox import BreslowPHReg
from study.stats.design import formula_model

TIME, EVENT = "days_to_next_purchase", "repeat_purchase"
HORIZONS = [30, 60, 90]  # days at which the share of customers who bought again is tabled
NAMES = {
    SPEED: ("repurchase_hazard_ratio_per_doubling", "Hazard ratio of a next purchase per doubling of first response time"),
    "resolved": ("repurchase_hazard_ratio_resolved", "Hazard ratio of a next purchase for a resolved case"),
    "reopened": ("repurchase_hazard_ratio_reopened", "Hazard ratio of a next purchase for a reopened case"),
}
DRIFT_NAMES = {SPEED: "repurchase_log_hazard_ratio_drift_per_doubling", "resolved": "repurchase_log_hazard_ratio_drift_resolved",
               "reopened": "repurchase_log_hazard_ratio_drift_reopened"}
PERIODS = 3  # thirds of the window
EVENTS_PER_TERM = 10  # fewer purchases per term in a period: dummies without a purchase, a fit that does not converge


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
        Per term (labels as in ``table``): the fitted log ratio, its drift from the first to the last
        purchase of the window with SE, the Grambsch-Therneau statistic and p-value (rank of the
        purchase day, model-based covariance) and the ``verdict``
        (:func:`study.stats.schoenfeld.verdict`).
    drifts : list of Estimate
        The drift of the log hazard ratio over the window of speed, resolution and reopening, with
        the verdict in ``extra``.
    periods : pandas.DataFrame
        The hazard ratio per doubling within each third of the window, with interval, p-value and
        purchases, or why a period was not estimated (fewer than ten purchases per model term);
        ``period_ratios`` holds the same as estimates.
    period_ratios : list of Estimate
    rmst : list of Estimate
        Differences in mean days before the next purchase up to the window's end: fast minus slow
        first responses (unadjusted Kaplan-Meier) and, adjusted, per doubling and fast minus slow
        (:mod:`study.regression.rmst`).
    window : float or None
        ``tau``, the day the RMST integrates to.
    controls, flags : list of str
    ledger : RowLedger
    fit : statsmodels PHRegResults or None
    notes : list of str
    skipped : str or None
        Why the model was not fitted (e.g. the data has no ``days_to_next_purchase``).
    rmst_skipped : str or None
        Why the RMST differences were not estimated while the Cox model was.
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
    drifts: list[Estimate] = field(default_factory=list)
    periods: pd.DataFrame = field(default_factory=pd.DataFrame)
    period_ratios: list[Estimate] = field(default_factory=list)
    rmst: list[Estimate] = field(default_factory=list)
    window: float | None = None
    rmst_skipped: str | None = None

    @property
    def estimates(self) -> list[Estimate]:
        return [*self.hazard_ratios, *self.drifts, *self.period_ratios, *self.rmst]

    def verdict(self, term: str = SPEED) -> str | None:
        """The proportional-hazards verdict of a model term (``response_log2_hours``, ``resolved``, ...)."""
        label = term_label(term)
        if self.proportional_hazards.empty or label not in self.proportional_hazards.index:
            return None
        return str(self.proportional_hazards.loc[label, "verdict"])

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
    # A Cox model has no constant: saying so spares statsmodels two rank checks of the design for a
    # hidden one (a second each with a dummy per agent on many tickets).
    model = formula_model(BreslowPHReg, formula(TIME, list(numeric), list(categorical)), frame, drop_intercept=True,
                          status=frame[EVENT].to_numpy(), ties="breslow", hasconst=False)
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


def _proportional_hazards(fit, alpha: float) -> pd.DataFrame:
    check = schoenfeld.grambsch_therneau(fit, [term_label(t) for t in fit.model.exog_names])
    check["verdict"] = [schoenfeld.verdict(p, drift, log_ratio, alpha) for p, drift, log_ratio
                        in check[["p-value", "drift", "log hazard ratio"]].itertuples(index=False)]
    return check


def _drift(check: pd.DataFrame, term: str, alpha: float, events: int) -> Estimate:
    row = check.loc[term_label(term)]
    low, high = wald_interval(row["drift"], row["drift SE"], alpha)
    threshold = max(schoenfeld.DRIFT_FLOOR, schoenfeld.DRIFT_SHARE * abs(row["log hazard ratio"]))
    return Estimate(
        name=DRIFT_NAMES[term], label=f"Change of the log hazard ratio ({term_label(term)}) from the first to the last purchase of the window",
        value=float(row["drift"]), se=float(row["drift SE"]), ci_low=low, ci_high=high, p_value=float(row["p-value"]),
        n=events, ci_level=1 - alpha, interval=WALD,
        method=("Grambsch-Therneau test of proportional hazards: slope of the scaled Schoenfeld residuals on the rank of the "
                "purchase day times its span; model-based covariance (not clustered); chi-squared statistic, 1 df"),
        extra={"verdict": str(row["verdict"]), "statistic": float(row["statistic"]), "threshold": float(threshold),
               "log_hazard_ratio": float(row["log hazard ratio"])},
    )


def period_edges(window: float) -> np.ndarray:
    """Edges of the periods: the window cut in thirds, rounded to whole days."""
    return np.round(np.linspace(0.0, window, PERIODS + 1))


def _periods(rows: pd.DataFrame, flags: list[str], controls: list[str], alpha: float, cluster: str,
             window: float) -> tuple[pd.DataFrame, list[Estimate]]:
    """The hazard ratio per doubling within each period (see the module docstring), or why not.

    Agents are not held fixed here: the periods check the main model's shape, and three more fits
    with a dummy per agent would triple the section's cost (the study's notes say so).
    """
    time, event = rows[TIME].to_numpy(dtype=float), rows[EVENT].to_numpy(dtype=bool)
    edges = period_edges(window)
    lines, estimates = [], []
    for number, (start, end) in enumerate(pairwise(edges), 1):
        at_risk = time > start
        part = rows[at_risk].assign(**{TIME: np.minimum(time[at_risk], end), EVENT: event[at_risk] & (time[at_risk] <= end)})
        kept_flags = [f for f in flags if part[f].nunique() > 1]
        kept_controls = [c for c in controls if part[c].nunique() > 1]
        purchases = int(part[EVENT].sum())
        terms = 1 + len(kept_flags) + sum(part[c].nunique() - 1 for c in kept_controls)
        line = {"period": f"days {start:g}-{end:g}", "tickets at risk": int(at_risk.sum()), "purchases": purchases}
        reason = degenerate.first(
            f"{purchases} purchases for {terms} model terms (at least {EVENTS_PER_TERM} per term)"
            if purchases < EVENTS_PER_TERM * terms else None,
            degenerate.no_variation(part, SPEED), degenerate.too_few_clusters(part, cluster))
        if reason:
            lines.append({**line, "hazard ratio": np.nan, "CI low": np.nan, "CI high": np.nan, "p-value": np.nan,
                          "not estimated": reason})
            continue
        fit = fit_cox(part, [SPEED, *kept_flags], kept_controls, cluster)
        estimate = _hazard_ratio(fit, SPEED, alpha, f"Cox model on the tickets without a purchase by day {start:g}, censored "
                                 f"at day {end:g}; robust SE clustered by {cluster}; observational, adjusted; agents not "
                                 "held fixed")
        estimate = replace(estimate, name=f"{NAMES[SPEED][0]}_period_{number}",
                           label=f"{NAMES[SPEED][1]}, purchases after day {start:g} up to day {end:g}",
                           extra={**estimate.extra, "period_start_day": float(start), "period_end_day": float(end)})
        estimates.append(estimate)
        lines.append({**line, "hazard ratio": estimate.value, "CI low": estimate.ci_low, "CI high": estimate.ci_high,
                      "p-value": estimate.p_value, "not estimated": ""})
    return pd.DataFrame(lines).set_index("period"), estimates


def _rmst(rows: pd.DataFrame, flags: list[str], controls: list[str], alpha: float, cluster: str
          ) -> tuple[list[Estimate], float | None, str | None]:
    reason = restricted_mean.skip_reason(rows)
    if reason:
        return [], None, reason
    tau = restricted_mean.window_end(rows)
    return [restricted_mean.contrast(rows, tau, alpha, cluster), *restricted_mean.adjusted(rows, flags, controls, tau, alpha, cluster)], tau, None


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
    flags, controls, notes = held.flags, held.controls, [*held.notes, *held.fixed_effect_notes]
    ledger = RowLedger(data.tickets, data.set_aside)
    if not data.has(TIME):
        return _skipped(f"the data has no {TIME} column (or it is empty): time to the next purchase is unknown",
                        ledger, flags, controls, notes)
    rows = ledger.require([TIME, EVENT, SPEED, *flags, *controls, *held.fixed_effects])
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
    # Agents enter as dummies (up to 200, with enough purchases for them): the ratios compare tickets
    # handled by the same agent.
    held = agent_terms.for_dummies(on_rows(held, rows), rows, events, [SPEED, *flags], EVENT)
    agents = held.fixed_effects
    notes = [*held.notes, *(n if n.startswith("agent held fixed") else f"Cox model: {n}" for n in held.fixed_effect_notes)]

    fit = fit_cox(rows, [SPEED, *flags], [*controls, *agents], cluster)
    held_fixed = "".join(f" + {term}" for term in [*flags, *controls])
    method = (
        f"Cox proportional hazards (PHReg, Breslow ties) of {TIME}, event {EVENT}, censored at the window's end, "
        f"on log2 response hours{held_fixed}; {agent_terms.dummy_words(held)}; robust SE clustered by {cluster}; "
        f"interval exp(Wald interval of the log ratio); observational, adjusted, CSAT left out (total effect)"
    )
    ratios = [_hazard_ratio(fit, term, alpha, method) for term in [SPEED, *flags]]
    ci = np.exp(fit.conf_int(alpha=alpha))
    shown = [not agent_terms.is_agent_term(t) for t in fit.model.exog_names]  # agent dummies: held fixed, not shown
    table = pd.DataFrame(
        {"hazard ratio": np.exp(fit.params), "CI low": ci[:, 0], "CI high": ci[:, 1], "p-value": fit.pvalues},
        index=pd.Index([term_label(t) for t in fit.model.exog_names], name="term"),
    )[shown]
    check = _proportional_hazards(fit, alpha)[shown]
    drifts = [_drift(check, term, alpha, events) for term in [SPEED, *flags]]
    periods, period_ratios = _periods(rows, flags, controls, alpha, cluster, float(rows[TIME].max()))
    if agents:
        notes.append("hazard ratios by period: agents not held fixed (a check of the main model's shape; "
                     "the main model holds them fixed)")
    estimates, tau, rmst_reason = _rmst(rows, flags, controls, alpha, cluster)
    if rmst_reason:
        notes.append(f"restricted mean survival time not estimated: {rmst_reason}")
    elif agents:
        notes.append("restricted mean survival time differences: agents not held fixed (the controls only)")
    return TimeToNextPurchase(
        ratios, table, _bought_by(rows, alpha), check, controls, flags, ledger, fit, notes,
        drifts=drifts, periods=periods, period_ratios=period_ratios, rmst=estimates, window=tau, rmst_skipped=rmst_reason,
    )
