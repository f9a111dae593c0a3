"""Restricted mean survival time (RMST) from the Kaplan-Meier curve: value, variance, influence.

The RMST up to ``tau`` is the area under the survival curve, ``integral_0^tau S(t) dt``: the mean
of ``min(T, tau)``, here the expected number of days of the window before the next purchase (a
customer who does not buy again counts the whole window). Unlike a hazard ratio it needs no
proportional hazards, and it reads in days.

With event times ``t_1 < ... < t_K <= tau``, ``n_k`` tickets at risk and ``d_k`` events at ``t_k``,
``h_k = d_k / n_k`` and the Kaplan-Meier curve ``S_k = prod_{j <= k} (1 - h_j)``, let
``A_k = integral_{t_k}^tau S(t) dt`` (the area to the right of ``t_k``). Then

- Greenwood-type variance: ``sum_k A_k^2 d_k / (n_k (n_k - d_k))`` (Klein & Moeschberger, 4.5;
  the variance of R's ``survRM2``);
- influence of ticket ``i`` (the derivative of the RMST with respect to its frequency weight):
  ``psi_i = -sum_k A_k (dN_ik - Y_ik h_k) / (n_k - d_k)``, with ``dN_ik`` its event at ``t_k`` and
  ``Y_ik`` whether it is at risk there. ``sum_i psi_i^2`` is the Greenwood variance exactly; summing
  ``psi`` within customers first gives a variance that allows their tickets to be correlated;
- pseudo-observations (infinitesimal jackknife): ``RMST + n psi_i``. When nobody is censored before
  ``tau`` they are exactly ``min(T_i, tau)``; regressing them on covariates gives RMST differences
  adjusted for those covariates (Andersen, Hansen & Klein 2004; Parner, Andersen & Overgaard 2023),
  valid when censoring does not depend on the covariates (a fixed follow-up window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan-Meier curve of right-censored times, at its event times up to ``tau``.

    Attributes
    ----------
    times : numpy.ndarray
        Distinct event times ``t_k <= tau``.
    at_risk, events : numpy.ndarray
        ``n_k`` (times ``>= t_k``) and ``d_k``.
    survival : numpy.ndarray
        ``S`` just after each ``t_k``.
    tau : float
        End of the integration.
    area_right : numpy.ndarray
        ``A_k``, the area under the curve from ``t_k`` to ``tau``.
    rmst : float
        The area from 0 to ``tau``.
    """

    times: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    tau: float
    area_right: np.ndarray
    rmst: float


def kaplan_meier(time: npt.ArrayLike, event: npt.ArrayLike, tau: float) -> KaplanMeier:
    """Kaplan-Meier curve and its area up to ``tau`` (censored times at ``t_k`` count as at risk there).

    Parameters
    ----------
    time : array_like
        Event or censoring times (non-negative).
    event : array_like
        1 (or True) for an event, 0 for censoring.
    tau : float
        End of the integration, positive.

    Returns
    -------
    KaplanMeier
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    order = np.sort(time)
    times, events = np.unique(time[event & (time <= tau)], return_counts=True)
    at_risk = len(time) - np.searchsorted(order, times, side="left")
    survival = np.cumprod(1.0 - events / at_risk)
    # Steps: S = 1 on [0, t_1), S_k on [t_k, t_{k+1}), the last step running to tau.
    edges = np.append(times, tau)
    pieces = survival * np.diff(edges)
    area_right = np.cumsum(pieces[::-1])[::-1]
    first = times[0] if len(times) else tau
    rmst = float(min(first, tau) + (area_right[0] if len(times) else 0.0))
    return KaplanMeier(times, at_risk.astype(float), events.astype(float), survival, float(tau), area_right, rmst)


def greenwood_variance(curve: KaplanMeier) -> float:
    """Greenwood-type variance of the RMST: ``sum_k A_k^2 d_k / (n_k (n_k - d_k))``.

    A time at which every ticket at risk has its event ends the curve at zero: its ``A_k`` is 0
    and so is its term.
    """
    alive = curve.at_risk > curve.events
    terms = curve.area_right[alive] ** 2 * curve.events[alive] / (curve.at_risk[alive] * (curve.at_risk[alive] - curve.events[alive]))
    return float(terms.sum())


def influence(time: npt.ArrayLike, event: npt.ArrayLike, curve: KaplanMeier) -> np.ndarray:
    """Each ticket's influence on the RMST, ``psi_i`` (see the module docstring).

    Parameters
    ----------
    time, event : array_like
        The data ``curve`` was estimated from.
    curve : KaplanMeier

    Returns
    -------
    numpy.ndarray
        ``psi_i``, summing to zero; ``RMST(weights 1 + eps e_i) - RMST = eps psi_i + O(eps^2)``.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    alive = curve.at_risk > curve.events
    spare = np.where(alive, curve.at_risk - curve.events, 1.0)
    own = np.where(alive, curve.area_right / spare, 0.0)  # A_k / (n_k - d_k)
    compensator = np.cumsum(own * curve.events / curve.at_risk)  # sum over t_k <= t of A_k h_k / (n_k - d_k)
    last = np.searchsorted(curve.times, time, side="right") - 1  # last event time at or before each ticket's
    psi = np.where(last >= 0, compensator[np.maximum(last, 0)], 0.0)
    died = event & (time <= curve.tau) & (last >= 0)
    psi[died] -= own[last[died]]
    return psi


def pseudo_observations(time: npt.ArrayLike, event: npt.ArrayLike, tau: float) -> np.ndarray:
    """Infinitesimal-jackknife pseudo-observations of the RMST, ``RMST + n psi_i``.

    Their mean is the RMST; with no censoring before ``tau`` each is ``min(T_i, tau)``.
    """
    curve = kaplan_meier(time, event, tau)
    return curve.rmst + len(np.asarray(time)) * influence(time, event, curve)


def clustered_variance(psi: npt.ArrayLike, codes: npt.ArrayLike) -> float:
    """``sum_g (sum_{i in g} psi_i)^2``: the variance of a sum of influences when clusters are independent.

    No small-sample factor, as the Cox model's robust covariance (statsmodels ``PHReg``).
    """
    by_cluster = np.bincount(np.asarray(codes), weights=np.asarray(psi, dtype=float))
    return float(by_cluster @ by_cluster)
