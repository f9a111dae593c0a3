"""statsmodels' Cox model (``PHReg``, Breslow ties) without its per-ticket Python loops.

``PHReg`` builds its risk sets with Python loops over every ticket and computes the score
residuals of the robust covariance by walking back through the event times, touching every
ticket still at risk at each one: on a million tickets that is most of the study's run time.
:class:`BreslowPHReg` is ``PHReg`` with the same risk-set structures built by sorting, and with
the Breslow log-likelihood, score, Hessian, covariate averages, score residuals and robust
covariance written as cumulative sums over the event times. Results are statsmodels'
``PHRegResults``; every other method is statsmodels' own and works on the same structures.

With ``d_k`` events at the k-th distinct event time ``t_k`` and ``e_i = exp(x_i'b)``:

- ``S0_k = sum_{t_i >= t_k} e_i``, ``S1_k`` likewise with ``e_i x_i``, ``xbar_k = S1_k / S0_k``;
- log-likelihood ``sum_events x_i'b - sum_k d_k log S0_k``; score
  ``sum_events x_i - sum_k d_k xbar_k``;
- Hessian ``-(sum_i e_i L_i x_i x_i' - sum_k d_k xbar_k xbar_k')`` with
  ``L_i = sum_{t_k <= t_i} d_k / S0_k`` (the Breslow cumulative hazard at ``t_i``), which turns
  the per-event-time second moments into one weighted cross-product;
- score residual ``delta_i (x_i - xbar(t_i)) - e_i (L_i x_i - sum_{t_k <= t_i} (d_k / S0_k) xbar_k)``.

The fast paths cover what the study fits: one stratum, no entry times, no offset, Breslow ties.
Anything else is left to statsmodels' loops.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from statsmodels.base.model import LikelihoodModel
from statsmodels.duration.hazard_regression import PHReg, PHRegResults, PHSurvivalTime
from statsmodels.tools.validation import string_like

from study.stats import dummies
from study.stats.rank import svd_rank


def survival_time(time: np.ndarray, status: np.ndarray, exog: np.ndarray) -> PHSurvivalTime:
    """statsmodels' ``PHSurvivalTime`` for one stratum without entry times, built by sorting.

    The attributes (rows kept and their order, per-event-time index arrays) are the ones
    ``PHSurvivalTime.__init__`` builds with Python loops, value for value.

    Parameters
    ----------
    time : numpy.ndarray
        Event or censoring times (non-negative).
    status : numpy.ndarray
        1 for an event, 0 for censoring; at least one event.
    exog : numpy.ndarray, (n, k)

    Returns
    -------
    statsmodels.duration.hazard_regression.PHSurvivalTime
    """
    entry = np.zeros(len(time))
    surv = PHSurvivalTime.__new__(PHSurvivalTime)
    surv._check(time, status, np.zeros(len(time), dtype=np.int32), entry)
    surv.nstrat_orig = surv.nstrat = 1
    surv.stratum_names = [np.int32(0)]
    surv.offset_s = None
    first_event = time[status == 1].min()
    # Tickets censored before the first event are in no risk set; the entry-time filter keeps all.
    rows = np.flatnonzero(time >= first_event).astype(np.int32)
    rows = rows[np.argsort(time[rows])]  # statsmodels' own sort, so tied times keep its order
    surv.stratum_rows = [rows]
    surv.n_obs = len(rows)
    surv.time_s, surv.exog_s = [time[rows]], [exog[rows, :]]
    surv.status_s, surv.entry_s = [status[rows]], [entry[rows]]

    times = surv.time_s[0]
    events = np.flatnonzero(surv.status_s[0] == 1)
    event_times = np.unique(times[events])
    # Times are sorted, so each event time's tickets (and each entry slot) are one contiguous run.
    surv.ufailt = [event_times]
    surv.ufailt_ix = [_runs(events, np.searchsorted(event_times, times[events]), len(event_times))]
    entering = np.searchsorted(event_times, times, "right") - 1
    surv.risk_enter = [_runs(np.arange(len(times)), entering, len(event_times))]
    # Entry time zero: every ticket leaves the risk set below the first event time.
    exits = [np.arange(len(times), dtype=np.int32)] + [np.empty(0, dtype=np.int32)] * (len(event_times) - 1)
    surv.risk_exit = [exits]
    return surv


def _runs(values: np.ndarray, slots: np.ndarray, count: int) -> list[np.ndarray]:
    """``values`` split by their (non-decreasing) slot 0 .. count - 1, as int32 arrays."""
    bounds = np.searchsorted(slots, np.arange(1, count))
    return [part.astype(np.int32) for part in np.split(values, bounds)]


class BreslowPHReg(PHReg):
    """statsmodels' ``PHReg`` with vectorized risk sets and Breslow derivatives.

    Same parameters, methods and results as :class:`statsmodels.duration.hazard_regression.PHReg`;
    see the module docstring for what is computed differently.
    """

    def __init__(self, endog: ArrayLike, exog: ArrayLike, status: ArrayLike | None = None, entry: ArrayLike | None = None,
                 strata: ArrayLike | None = None, offset: ArrayLike | None = None, ties: str = "breslow",
                 missing: str = "drop", **kwargs):
        # PHReg.__init__, with the risk sets built by survival_time where it applies.
        if status is None:
            status = np.ones(len(endog))
        LikelihoodModel.__init__(self, endog, exog, status=status, entry=entry, strata=strata, offset=offset,
                                 missing=missing, **kwargs)
        for name in ("status", "entry", "strata", "offset"):
            if getattr(self, name) is not None:
                setattr(self, name, np.asarray(getattr(self, name)))
        self._fast = (self.entry is None and self.strata is None and self.offset is None
                      and np.any(self.status == 1))
        if self._fast:
            self.surv = survival_time(self.endog, self.status, self.exog)
        else:
            self.surv = PHSurvivalTime(self.endog, self.status, self.exog, self.strata, self.entry, self.offset)
        self.nobs = len(self.endog)
        self.groups = None
        self.missing = missing
        rank = svd_rank(self.exog)  # numpy's matrix_rank, without the SVD for a certified full-rank design
        self.df_resid = float(self.exog.shape[0] - rank)
        self.df_model = float(rank)
        self.ties = string_like(ties, "ties", options=("efron", "breslow"))

    def fit(self, groups: np.ndarray | None = None, **args) -> PHRegResults:
        """Fit as ``PHReg.fit``; the cached risk-set sums are let go afterwards (see :meth:`_risk_sums`)."""
        try:
            return super().fit(groups=groups, **args)
        finally:
            self._last_sums = None

    def _dummies(self) -> dummies.Layout | None:
        """The dummy columns of the sorted design (:func:`study.stats.dummies.layout`), read once."""
        if not hasattr(self, "_layout"):
            self._layout = dummies.layout(self.surv.exog_s[0])
        return self._layout

    def _risk_sums(self, params: np.ndarray) -> dict:
        """Per-event-time sums over the risk set, and per-ticket cumulative quantities.

        Newton's steps and the robust covariance ask for several of them at the same parameters,
        so the last evaluation is kept while fitting.
        """
        params = np.asarray(params, dtype=float)
        cached = getattr(self, "_last_sums", None)
        if cached is not None and np.array_equal(cached[0], params):
            return cached[1]
        surv = self.surv
        exog, times = surv.exog_s[0], surv.time_s[0]
        event_times = surv.ufailt[0]
        linear = exog @ params
        linear -= linear.max()  # as statsmodels: the ratios do not change, exp cannot overflow
        weight = np.exp(linear)
        slot = np.searchsorted(event_times, times, "right") - 1  # last event time at or before t_i
        # Times are sorted and every event time has its own events: each slot is one non-empty run.
        starts = np.searchsorted(slot, np.arange(len(event_times)))
        # Reverse cumulative sums: the risk set at t_k is every ticket with t_i >= t_k.
        zeroth = np.cumsum(np.add.reduceat(weight, starts)[::-1])[::-1]
        first = np.cumsum(dummies.run_sums(exog, weight, starts, self._dummies())[::-1], axis=0)[::-1]
        deaths = np.array([len(ix) for ix in surv.ufailt_ix[0]], dtype=float)
        hazard = deaths / zeroth
        average = first / zeroth[:, None]
        # The per-ticket cumulative averages (rows x terms) only serve the score residuals: made there.
        sums = {"exog": exog, "linear": linear, "weight": weight, "slot": slot, "zeroth": zeroth,
                "average": average, "deaths": deaths, "hazard": hazard,
                "cumulative_hazard": np.cumsum(hazard)[slot]}
        self._last_sums = (params.copy(), sums)
        return sums

    def breslow_loglike(self, params: np.ndarray) -> float:
        """Log partial likelihood, Breslow ties."""
        if not self._fast:
            return super().breslow_loglike(params)
        sums = self._risk_sums(params)
        events = self.surv.status_s[0] == 1
        return float(sums["linear"][events].sum() - sums["deaths"] @ np.log(sums["zeroth"]))

    def breslow_gradient(self, params: np.ndarray) -> np.ndarray:
        """Score of the log partial likelihood, Breslow ties."""
        if not self._fast:
            return super().breslow_gradient(params)
        sums = self._risk_sums(params)
        events = self.surv.status_s[0] == 1
        return sums["exog"][events].sum(0) - sums["deaths"] @ sums["average"]

    def breslow_hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian of the log partial likelihood, Breslow ties."""
        if not self._fast:
            return super().breslow_hessian(params)
        sums = self._risk_sums(params)
        if "hessian" not in sums:
            # Kept with the sums: the fit's last step and the robust covariance ask for it at the same
            # parameters. A copy goes out, as Newton's method adds its ridge to the diagonal in place.
            exog, average = sums["exog"], sums["average"]
            second = dummies.weighted_gram(exog, sums["weight"] * sums["cumulative_hazard"], self._dummies())
            sums["hessian"] = -(second - average.T @ (average * sums["deaths"][:, None]))
        return sums["hessian"].copy()

    def weighted_covariate_averages(self, params: np.ndarray) -> list[np.ndarray]:
        """Hazard-weighted covariate averages of the risk set at each event time."""
        if not self._fast:
            return super().weighted_covariate_averages(params)
        return [self._risk_sums(params)["average"]]

    def score_residuals(self, params: np.ndarray) -> np.ndarray:
        """Score residuals (Breslow), NaN for tickets in no risk set, as statsmodels."""
        if not self._fast:
            return super().score_residuals(params)
        out = np.full(self.exog.shape, np.nan)
        out[self.surv.stratum_rows[0]] = self._sorted_score_residuals(params)
        return out

    def _sorted_score_residuals(self, params: np.ndarray) -> np.ndarray:
        """The score residuals of the tickets in a risk set, in the order of their times."""
        sums = self._risk_sums(params)
        exog, weight, slot = sums["exog"], sums["weight"], sums["slot"]
        cumulative_average = np.cumsum(sums["hazard"][:, None] * sums["average"], axis=0)[slot]
        compensator = sums["cumulative_hazard"][:, None] * exog
        compensator -= cumulative_average
        compensator *= weight[:, None]
        # own - compensator, where own is zero but for the tickets with an event: computed in place,
        # value for value as the full expression.
        residual = np.subtract(0.0, compensator, out=cumulative_average)
        events = np.flatnonzero(self.surv.status_s[0] == 1)
        residual[events] = (exog[events] - sums["average"][slot[events]]) - compensator[events]
        return residual

    def _summed_score_residuals(self, params: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Each group's sum of the score residuals of its tickets (``group``: per ticket in time order, 0 .. G - 1).

        A residual is ``(delta_i - e_i L_i) x_i - delta_i xbar(t_i) + e_i sum_{t_k <= t_i} (d_k / S0_k) xbar_k``:
        per group, the first term is a weighted sum of the design's rows (through the dummies' codes), the other
        two a weighted count of its tickets per event time times the averages at that time; no residual is
        formed ticket by ticket.
        """
        sums = self._risk_sums(params)
        groups, times = int(group.max()) + 1, len(sums["average"])
        status, weight, slot = self.surv.status_s[0].astype(float), sums["weight"], sums["slot"]
        by_group = dummies.group_sums(sums["exog"], status - weight * sums["cumulative_hazard"], group, groups,
                                      self._dummies())
        per_time = sparse.csr_matrix((np.r_[-status, weight], (np.r_[group, group], np.r_[slot, slot + times])),
                                     shape=(groups, 2 * times))
        cumulative_average = np.cumsum(sums["hazard"][:, None] * sums["average"], axis=0)
        return by_group + per_time @ np.vstack([sums["average"], cumulative_average])

    def robust_covariance(self, params: np.ndarray) -> np.ndarray:
        """Sandwich covariance over the groups' summed score residuals (statsmodels' formula)."""
        if self.groups is None:
            raise ValueError("`groups` must be specified to calculate the robust covariance matrix")
        if not self._fast:
            return super().robust_covariance(params)
        hess_inv = np.linalg.inv(self.hessian(params))
        codes = np.unique(self.groups, return_inverse=True)[1].ravel()
        rows = self.surv.stratum_rows[0]
        if len(rows) < len(codes):  # tickets in no risk set: NaN residuals, and statsmodels' NaN covariance
            residuals = self.score_residuals(params)
            by_group = np.column_stack([np.bincount(codes, weights=residuals[:, j]) for j in range(residuals.shape[1])])
        else:
            by_group = self._summed_score_residuals(params, codes[rows])
        return hess_inv @ (by_group.T @ by_group) @ hess_inv
