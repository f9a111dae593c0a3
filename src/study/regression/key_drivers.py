"""Key-driver analysis: how much of the variation in CSAT each service attribute accounts for.

Importance is the Shapley decomposition of the R² of an OLS of CSAT on the service attributes
(general dominance in dominance analysis): each attribute's average gain in R² when it joins a
model, averaged first over the models of each size built from the other attributes and then over
the sizes. The shares are never negative (adding a predictor never lowers R²), do not depend on the
order in which attributes are listed, and add up exactly to the full model's R².

The R² of every subset comes from one covariance matrix (R²(S) = c_yS' C_SS⁻¹ c_yS / var(y)), so the
rows are read once; the bootstrap works on per-customer sums of the same cross-products, so each
replicate costs a matrix product rather than a pass over the tickets.

Importance is descriptive, not causal: an attribute that travels with a cause (more contacts with
unresolved cases, say) shares in that cause's credit. Read it with ``02_satisfaction_drivers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import Interval, percentile_interval
from study.core.results import Estimate, Skipped
from study.core.tables import numbers_as_text
from study.data.dataset import TicketData
from study.stats.cluster import cluster_bootstrap
from study.stats.shapley import (
    RCOND,
    cluster_moments,
    covariances,
    shapley_matrix,
    subset_r_squared,
)

OUTCOME = "csat"


ATTRIBUTES = ["response_log2_hours", "resolved", "reopened", "contacts", "quality_score"]


LABELS = {
    "response_log2_hours": "first response time (log2 hours)",
    "resolved": "case resolved",
    "reopened": "case reopened",
    "contacts": "number of customer contacts",
    "quality_score": "QA score",
}


# Performance on a 0-100 scale where higher is better, whatever the attribute's own direction.
PERFORMANCE = {
    "response_log2_hours": "% of tickets answered within 1 hour",
    "resolved": "% of tickets resolved",
    "reopened": "% of tickets not reopened",
    "contacts": "% of tickets closed with a single contact",
    "quality_score": "mean QA score (0-100)",
}


# Quadrants of the importance-performance map, described, not prescribed: the shares are descriptive,
# so they say where an attribute stands, not where improvement would pay.
IMPORTANT_UNDER_PERFORMING = "important, weaker"
QUADRANTS = {
    (True, False): IMPORTANT_UNDER_PERFORMING,
    (True, True): "important, stronger",
    (False, False): "less important, weaker",
    (False, True): "less important, stronger",
}


def performance_score(attribute: str, values: pd.Series) -> float:
    """Current performance of one attribute on a 0-100 scale, higher is better.

    Parameters
    ----------
    attribute : str
        One of :data:`ATTRIBUTES`.
    values : pandas.Series
        The attribute's values on the tickets to describe (missing values are ignored).

    Returns
    -------
    float
        See :data:`PERFORMANCE` for what each attribute's score means.
    """
    values = values.dropna().astype(float)
    good = {
        "response_log2_hours": lambda v: v <= 0.0,  # log2 hours <= 0 is at most one hour
        "resolved": lambda v: v == 1.0,
        "reopened": lambda v: v == 0.0,
        "contacts": lambda v: v == 1.0,
    }
    if attribute == "quality_score":
        return float(values.mean())
    return float(100.0 * good[attribute](values).mean())


@dataclass
class KeyDrivers:
    """Relative importance of service attributes for CSAT, with bootstrap intervals.

    Attributes
    ----------
    table : pandas.DataFrame
        Importance × performance, one row per attribute, most important first (see
        :func:`key_drivers` for the columns and the intended chart).
    r_squared : float
        R² of the OLS of CSAT on all attributes; the importances add up to it.
    n : int
        Tickets used.
    ledger : RowLedger
        Rows in, dropped by reason, used.
    estimates : list of Estimate
        ``importance_<attribute>`` for each attribute, then ``r_squared_all_attributes``.
    attributes : list of str
        Attributes analysed, in :data:`ATTRIBUTES` order.
    replicates : pandas.DataFrame
        Bootstrap replicates of each importance and of R² (one row per replicate).
    clusters : int
        Clusters (customers) resampled.
    method : str
    notes : list of str
        Attributes left out and why.
    """

    table: pd.DataFrame
    r_squared: float
    n: int
    ledger: RowLedger
    estimates: list[Estimate]
    attributes: list[str]
    replicates: pd.DataFrame
    clusters: int
    method: str
    notes: list[str] = field(default_factory=list)

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``."""
        return next(e for e in self.estimates if e.name == name)


def _choose_attributes(answered: pd.DataFrame, candidates: list[str]) -> tuple[list[str], list[str]]:
    chosen, notes = [], []
    for attribute in candidates:
        if attribute not in answered.columns or answered[attribute].isna().all():
            notes.append(f"{attribute} left out: not in the data")
        elif answered[attribute].nunique() < 2:
            notes.append(f"{attribute} left out: a single value among answered tickets")
        else:
            chosen.append(attribute)
    return chosen, notes


def key_drivers(
    data: TicketData,
    attributes: list[str] | None = None,
    n_boot: int = 500,
    seed: int = 2026,
    alpha: float = 0.05,
    cluster: str | None = "customer_id",
) -> KeyDrivers:
    """Which service attributes account for most of the variation in CSAT, and how well do we do on them?

    On the tickets with a survey answer, fits (through the covariance matrix) the OLS of CSAT on
    every subset of the attributes and splits the full model's R² by the Shapley value. Intervals
    come from a cluster bootstrap: customers are drawn with replacement, each bringing all of its
    answered tickets, and the whole decomposition is recomputed on each replicate; the interval is
    the percentile interval (the alpha/2 and 1 - alpha/2 quantiles of the replicates), the standard
    error the replicates' standard deviation. A percentile interval for a share near zero can sit
    just above the point estimate, because a share cannot fall below zero.

    Parameters
    ----------
    data : TicketData
    attributes : list of str, optional
        Subset of :data:`ATTRIBUTES`; default all. Those absent from the data or with a single
        value among answered tickets are left out (see ``notes``).
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the bootstrap; the same data, seed and ``n_boot`` give the same intervals.
    alpha : float
        1 - confidence level.
    cluster : str or None
        Column whose values are resampled together; ``None`` resamples tickets.

    Returns
    -------
    KeyDrivers
        ``table`` has, per attribute: ``attribute``, ``label``; ``importance`` (share of R²),
        ``importance_se``, ``importance_ci_low``, ``importance_ci_high``; ``share_of_explained``
        (importance / R², the shares sum to 1); ``rank`` (1 = most important);
        ``standardized_coefficient`` (full model, for the direction of the association);
        ``performance`` (0-100, higher is better, over all tickets with a value, answered or not,
        because respondents over-represent bad experiences); ``performance_respondents`` (the
        same among the tickets analysed); ``performance_measure`` (what the score counts);
        ``quadrant`` (importance above or below the attributes' mean importance × performance
        above or below their mean performance).

        Intended chart (importance-performance map): a scatter with performance on x (0-100) and
        importance on y, one labelled point per attribute with its bootstrap interval as a vertical
        bar, and dashed lines at the mean performance and the mean importance. The upper-left
        quadrant holds the important, weaker attributes ("important, weaker"); whether improving one would move
        CSAT is a causal question the shares do not answer.

    Raises
    ------
    ValueError
        If an attribute is not in :data:`ATTRIBUTES`, none is usable, or CSAT does not vary.
    """
    candidates = list(ATTRIBUTES if attributes is None else attributes)
    unknown = [a for a in candidates if a not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attribute(s) {unknown}; choose from {ATTRIBUTES}")
    tickets = data.tickets
    ledger = RowLedger(tickets, data.set_aside)
    answered = ledger.keep(tickets["csat_answered"], "no survey answer")
    chosen, notes = _choose_attributes(answered, candidates)
    rows = ledger.require(chosen)
    # Dropping rows with a missing attribute can leave another one constant.
    still_varying = [a for a in chosen if rows[a].nunique() >= 2]
    notes += [f"{a} left out: a single value among tickets with every attribute" for a in chosen if a not in still_varying]
    chosen = still_varying
    if not chosen:
        raise ValueError("no service attribute with at least two values among answered tickets")
    if rows[OUTCOME].nunique() < 2:
        raise ValueError(f"csat takes a single value on the {len(rows)} tickets analysed; R² is undefined")

    values = rows[[*chosen, OUTCOME]].to_numpy(dtype=float)
    # Standardizing first keeps the cross-products near 1, so sums over 50k rows lose no precision.
    values = (values - values.mean(axis=0)) / values.std(axis=0)
    if cluster is None:
        codes, n_clusters = np.arange(len(rows)), len(rows)
    else:
        codes, uniques = pd.factorize(rows[cluster], sort=True)  # sorted: row order cannot change the draws
        n_clusters = len(uniques)
    moments = cluster_moments(values, codes, n_clusters)
    width, k = len(chosen) + 1, len(chosen)
    to_shares = shapley_matrix(k)

    def decompose(totals: np.ndarray) -> np.ndarray:
        subset_r2 = subset_r_squared(covariances(totals, width))
        return np.column_stack([subset_r2 @ to_shares, subset_r2[:, -1]])

    point = decompose(moments.sum(axis=0, keepdims=True))[0]
    boot = np.vstack(cluster_bootstrap(moments, n_boot, seed, decompose))
    low, high = percentile_interval(boot, alpha, axis=0)
    se = boot.std(axis=0, ddof=1)

    covariance = covariances(moments.sum(axis=0, keepdims=True), width)[0]
    coefficients = np.linalg.pinv(covariance[:k, :k], rcond=RCOND, hermitian=True) @ covariance[:k, k]
    r_squared = float(point[-1])
    level = f"{1 - alpha:.0%}"
    resampled = f"{cluster} clusters" if cluster else "tickets"
    method = (
        f"Shapley decomposition of R² (general dominance) of OLS csat ~ {' + '.join(chosen)}, all "
        f"{2**k} subsets; {level} percentile bootstrap, {n_boot} replicates resampling {resampled}, "
        f"seed {seed}; observational, descriptive"
    )

    table = pd.DataFrame(
        {
            "attribute": chosen,
            "label": [LABELS[a] for a in chosen],
            "importance": point[:k],
            "importance_se": se[:k],
            "importance_ci_low": low[:k],
            "importance_ci_high": high[:k],
            "share_of_explained": point[:k] / r_squared,
            "standardized_coefficient": coefficients,
            "performance": [performance_score(a, tickets[a]) for a in chosen],
            "performance_respondents": [performance_score(a, rows[a]) for a in chosen],
            "performance_measure": [PERFORMANCE[a] for a in chosen],
        }
    )
    table["rank"] = table["importance"].rank(ascending=False, method="min").astype(int)
    important = table["importance"] > table["importance"].mean()
    performing = table["performance"] > table["performance"].mean()
    table["quadrant"] = [QUADRANTS[(i, p)] for i, p in zip(important, performing)]
    table = table.sort_values("rank", kind="stable", ignore_index=True)

    estimates = [
        Estimate(
            name=f"importance_{a}", label=f"Share of CSAT R² attributed to {LABELS[a]}",
            value=float(point[j]), se=float(se[j]), ci_low=float(low[j]), ci_high=float(high[j]),
            p_value=None, n=len(rows), method=method, ci_level=1 - alpha,
            interval=Interval("percentile", draws=boot[:, j]),
        )
        for j, a in enumerate(chosen)
    ]
    estimates.append(
        Estimate(
            name="r_squared_all_attributes", label="R² of CSAT on all service attributes",
            value=r_squared, se=float(se[-1]), ci_low=float(low[-1]), ci_high=float(high[-1]),
            p_value=None, n=len(rows), method=method, ci_level=1 - alpha, interval=Interval("percentile", draws=boot[:, -1]),
        )
    )
    replicates = pd.DataFrame(boot, columns=[*chosen, "r_squared"])
    return KeyDrivers(table, r_squared, len(rows), ledger, estimates, chosen, replicates, n_clusters, method, notes)


def key_drivers_or_skipped(data: TicketData, n_boot: int = 500, seed: int = 2026, alpha: float = 0.05,
                           cluster: str | None = "customer_id") -> KeyDrivers | Skipped:
    """:func:`key_drivers`, or why it cannot run on this data: no answered survey, CSAT with one value,
    no attribute that varies, or (with ``cluster``) fewer than two customers to resample."""
    tickets = data.tickets
    answered = tickets[tickets["csat_answered"].astype(bool)]
    chosen, _ = _choose_attributes(answered, ATTRIBUTES)
    rows = answered.dropna(subset=chosen)
    reason = degenerate.first(
        degenerate.no_rows(rows, "answered surveys"),
        degenerate.constant(rows, OUTCOME, "nothing to explain"),
        "no service attribute takes two values among the answered surveys"
        if not [a for a in chosen if rows[a].nunique() >= 2] else None,
        degenerate.too_few_clusters(rows, cluster, purpose="the customer bootstrap") if cluster else None,
        degenerate.too_few_rows(rows, len(chosen) + 1, "answered surveys"),
    )
    if reason:
        return Skipped("key drivers", reason)
    return key_drivers(data, n_boot=n_boot, seed=seed, alpha=alpha, cluster=cluster)


def summary_table(table) -> pd.DataFrame | Skipped:
    """The key-driver table for readers: importance with its interval, share, performance, quadrant.

    ``table`` is :attr:`KeyDrivers.table`, the :class:`KeyDrivers` itself, or a Skipped (returned as it is).
    """
    if isinstance(table, Skipped):
        return table
    table = getattr(table, "table", table)
    summary = pd.DataFrame(
        {
            "share of R²": table["importance"].to_numpy(),
            "interval": [f"{low:.3f} to {high:.3f}" for low, high in zip(table["importance_ci_low"], table["importance_ci_high"])],
            "share of explained": table["share_of_explained"].to_numpy(),
            "performance (0-100)": table["performance"].to_numpy(),
            "performance measure": table["performance_measure"].to_numpy(),
            "quadrant": table["quadrant"].to_numpy(),
        },
        index=pd.Index(table["label"], name="attribute"),
    )
    return numbers_as_text(summary, "interval")
