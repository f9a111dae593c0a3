"""The ticket-shaped SLA experiment as one row per randomized customer."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Customer-level covariates measured before the experiment: balance checks and CUPED use them.
PRE_PERIOD_COVARIATES = ["tenure_days", "prior_orders", "pre_spend", "loyalty_tier"]


def customer_table(rows: pd.DataFrame, unit: str = "customer_id", arm: str = "variant",
                   unit_codes: tuple | None = None) -> pd.DataFrame:
    """One row per randomized customer: arm, pre-period covariates and per-customer sums of the outcomes.

    Ticket-level metrics become ratio metrics over customers (e.g. repeat purchases / tickets): their
    delta-method variance is the cluster-robust variance of the ticket-level mean, so the unit-level
    engine (:mod:`study.ab.abtest`) analyses the ticket-shaped experiment correctly.

    Rows are (unit, arm) pairs, sorted by unit then arm; tickets without a unit or an arm belong to
    no row. Sums skip missing values and are missing where a customer has no value at all, except
    ``next_spend``: a customer with any ticket of unknown spend (in whichever arm) has unknown
    spend, not less spend. Pre-period covariates are each customer's first known value, in row
    order; ``first_channel`` is the channel of the customer's first ticket by ``created_at``
    (stable, tickets without a time last, tickets without a channel skipped).

    Parameters
    ----------
    rows : pandas.DataFrame
        Experiment tickets (:func:`study.data.experiment.experiment_rows`), each customer in one arm.
    unit, arm : str
        Columns of the randomized unit and of its arm.
    unit_codes : tuple, optional
        ``pandas.factorize(rows[unit], use_na_sentinel=False)`` when the caller has it
        (:attr:`study.data.experiment.ExperimentUnits.unit_codes`): only its values are sorted then.

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``arm``, ``tickets``, ``surveys`` (answered), ``csat_sum``, ``repeat_sum``,
        ``log2_hours_sum`` and, where present, ``next_spend`` (total follow-up spend), the
        pre-period covariates and ``first_channel`` (for segments); then ``repeat_rate``.
    """
    # Integer codes and bincount instead of a groupby on the text keys, which takes about three
    # times as long on a million customers.
    unit_codes, units = (pd.factorize(rows[unit], sort=True) if unit_codes is None
                         else sorted_codes(*unit_codes))
    arm_codes, arms = pd.factorize(rows[arm], sort=True)
    keyed = (unit_codes >= 0) & (arm_codes >= 0)
    # Groups are the (unit, arm) pairs seen, numbered in sorted order: by unit, then by arm.
    pair = unit_codes[keyed].astype(np.int64) * len(arms) + arm_codes[keyed]
    seen = np.bincount(pair, minlength=len(units) * len(arms)) > 0
    group = (np.cumsum(seen) - 1)[pair]
    group_unit, group_arm = np.divmod(np.flatnonzero(seen), len(arms))
    out = pd.DataFrame({unit: units.take(group_unit), arm: arms.take(group_arm)})

    csat = rows["csat"].to_numpy(dtype=float, na_value=np.nan)
    outcomes = {
        "tickets": np.ones(len(rows)),
        "surveys": (~np.isnan(csat)).astype(float),
        "csat_sum": np.nan_to_num(csat, nan=0.0),
        "repeat_sum": rows["repeat_purchase"].to_numpy(dtype=float, na_value=np.nan),
        "log2_hours_sum": rows["response_log2_hours"].to_numpy(dtype=float, na_value=np.nan),
    }
    if "next_spend" in rows.columns:
        outcomes["next_spend"] = rows["next_spend"].to_numpy(dtype=float, na_value=np.nan)
    everyone = keyed.all()
    for name, values in outcomes.items():
        out[name] = _sums(group, values if everyone else values[keyed], len(group_unit))
    if "next_spend" in rows.columns:
        unknown_spend = np.zeros(len(units), dtype=bool)
        unknown_spend[unit_codes[np.isnan(outcomes["next_spend"]) & (unit_codes >= 0)]] = True
        out.loc[unknown_spend[group_unit], "next_spend"] = np.nan

    # Per customer, not per (customer, arm): a ticket without an arm still tells the customer's covariates.
    first_row = _first_rows(unit_codes, len(units))
    for covariate in (c for c in PRE_PERIOD_COVARIATES if c in rows.columns):
        known = rows[covariate].notna().to_numpy(dtype=bool)
        first = first_row if known.all() else _first_rows(unit_codes, len(units), known)
        out[covariate] = _take(rows[covariate], first[group_unit])
    if "channel" in rows.columns:
        # A customer's segment is the channel of their first ticket: chosen before any reply, so
        # before the SLA could act on it.
        order = None
        if "created_at" in rows.columns and not rows["created_at"].is_monotonic_increasing:
            order = rows["created_at"].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()  # NaT last
        first = _first_rows(unit_codes, len(units), rows["channel"].notna().to_numpy(dtype=bool), order)
        out["first_channel"] = _take(rows["channel"], first[group_unit])
    out["repeat_rate"] = out["repeat_sum"] / out["tickets"]
    return out


def sorted_codes(codes: np.ndarray, values) -> tuple[np.ndarray, object]:
    """Codes and values of a factorization renumbered as ``pandas.factorize(..., sort=True)`` numbers them.

    Parameters
    ----------
    codes : numpy.ndarray of int
        A code per row, ``-1`` or the position of a missing value in ``values`` for a row without one.
    values : array-like
        The distinct values (``pandas.factorize``'s uniques), in any order.

    Returns
    -------
    codes : numpy.ndarray of int
        Positions in the sorted values, ``-1`` for missing.
    values : array-like
        The values that are not missing, sorted.
    """
    missing = np.asarray(pd.isna(values), dtype=bool)
    known = values[~missing]
    sorter = np.asarray(known.argsort(), dtype=np.intp)
    rank = np.full(len(values) + 1, -1, dtype=np.intp)  # the last slot: code -1 stays -1
    rank[np.flatnonzero(~missing)[sorter]] = np.arange(len(known))
    return rank[codes], known.take(sorter)


def _sums(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Each group's sum of its known ``values``, NaN for a group without any (``sum(min_count=1)``)."""
    known = ~np.isnan(values)
    if not known.all():
        group, values = group[known], values[known]
    sums = np.bincount(group, weights=values, minlength=size).astype(float, copy=False)  # int when empty
    sums[np.bincount(group, minlength=size) == 0] = np.nan
    return sums


def _first_rows(codes: np.ndarray, size: int, known: np.ndarray | None = None,
                order: np.ndarray | None = None) -> np.ndarray:
    """Each code's first row, taking rows in ``order`` (default: row order) and only those ``known``.

    Parameters
    ----------
    codes : numpy.ndarray of int
        Code of each row, ``0..size-1``, negative for a row that belongs to no code.
    size : int
        Number of codes.
    known : numpy.ndarray of bool, optional
        Rows that may be chosen (default: all).
    order : numpy.ndarray of int, optional
        Row positions in the order that decides which row comes first.

    Returns
    -------
    numpy.ndarray of int
        A row position per code, ``-1`` for a code without a row to choose.
    """
    eligible = codes >= 0 if known is None else known & (codes >= 0)
    candidates = np.flatnonzero(eligible) if order is None else order[eligible[order]]
    first = np.full(size, len(candidates))  # past the end: no candidate, -1 below
    np.minimum.at(first, codes[candidates], np.arange(len(candidates)))
    return np.append(candidates, -1)[first]


def _take(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions`` (``-1``: missing), with the dtype kept."""
    return pd.Series(values.array.take(positions, allow_fill=True), dtype=values.dtype)
