"""The ticket-shaped SLA experiment as one row per randomized customer, grouped on integer codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Customer-level covariates measured before the experiment: balance checks and CUPED use them.
PRE_PERIOD_COVARIATES = ["tenure_days", "prior_orders", "pre_spend", "loyalty_tier"]


def first_appearances(codes: np.ndarray) -> np.ndarray:
    """Row of each value's first appearance, for codes numbered in order of appearance.

    :func:`pandas.factorize` (``sort=False``) numbers values as they first appear, so a row holds
    a value's first appearance exactly when its code exceeds every code before it. Negative codes
    (missing values) never count.

    Returns
    -------
    numpy.ndarray
        Positions, in increasing order; the ``k``-th is where code ``k`` first appears.
    """
    if codes.size == 0:
        return np.empty(0, dtype=np.intp)
    highest = np.maximum.accumulate(codes)
    rises = np.empty(codes.size, dtype=bool)
    rises[0] = codes[0] >= 0
    np.greater(highest[1:], highest[:-1], out=rises[1:])
    return np.flatnonzero(rises)


def first_positions(codes: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
    """For each code ``0..size-1``, the first of ``positions`` (taken in their order) whose row has it.

    Parameters
    ----------
    codes : numpy.ndarray of int
        Code of every row; those at ``positions`` must be non-negative.
    positions : numpy.ndarray of int
        Rows to look at, in the order that decides which is first.
    size : int
        Number of codes.

    Returns
    -------
    numpy.ndarray of intp
        A row position per code, ``-1`` for a code none of ``positions`` has.
    """
    renumbered, seen = pd.factorize(codes[positions])
    first = np.full(size, -1, dtype=np.intp)
    first[seen] = positions[first_appearances(renumbered)]
    return first


def customer_table(rows: pd.DataFrame, unit: str = "customer_id", arm: str = "variant") -> pd.DataFrame:
    """One row per randomized customer: arm, pre-period covariates and per-customer sums of the outcomes.

    Ticket-level metrics become ratio metrics over customers (e.g. repeat purchases / tickets): their
    delta-method variance is the cluster-robust variance of the ticket-level mean, so the unit-level
    engine (:mod:`study.ab.abtest`) analyses the ticket-shaped experiment correctly.

    Parameters
    ----------
    rows : pandas.DataFrame
        Experiment tickets (:func:`experiment_rows`), each customer in one arm.

    Returns
    -------
    pandas.DataFrame
        ``tickets``, ``surveys`` (answered), ``csat_sum``, ``repeat_sum``, ``log2_hours_sum`` and,
        where present, ``next_spend`` (total follow-up spend), the pre-period covariates and
        ``first_channel`` (the channel of the customer's first ticket, for segments).
    """
    # Integer codes instead of a groupby on text keys: the result is, cell for cell and bit for bit,
    # the former rows.groupby([unit, arm], sort=True).sum(min_count=1) joined with each customer's
    # first values.
    unit_codes, unit_values, unit_first_row = _sorted_codes(rows[unit])
    arm_codes, arm_values, arm_first_row = _sorted_codes(rows[arm])
    in_group = (unit_codes >= 0) & (arm_codes >= 0)  # a groupby leaves rows with a missing key out
    # Groups are the (unit, arm) pairs seen, numbered in sorted order: by unit, then by arm.
    pair = (unit_codes.astype(np.int64) * len(arm_values) + arm_codes)[in_group]
    seen = np.bincount(pair, minlength=len(unit_values) * len(arm_values)) > 0
    group_unit, group_arm = np.divmod(np.flatnonzero(seen), len(arm_values))
    group = (np.cumsum(seen) - 1)[pair]

    out = pd.DataFrame({
        unit: unit_values.take(group_unit).astype(_key_dtype(rows[unit], unit_first_row, joined=True)),
        arm: arm_values.take(group_arm).astype(_key_dtype(rows[arm], arm_first_row, joined=False)),
    })
    outcomes = {
        "tickets": np.ones(len(rows)),
        "surveys": rows["csat"].notna().to_numpy(dtype=float),
        "csat_sum": rows["csat"].astype(float).fillna(0.0).to_numpy(),
        "repeat_sum": rows["repeat_purchase"].astype(float).to_numpy(),
        "log2_hours_sum": rows["response_log2_hours"].to_numpy(dtype=float),
    }
    if "next_spend" in rows.columns:
        outcomes["next_spend"] = rows["next_spend"].astype(float).to_numpy()
    grouped = outcomes if in_group.all() else {name: values[in_group] for name, values in outcomes.items()}
    for name, values in _group_sums(group, grouped, len(group_unit)).items():
        out[name] = values
    if "next_spend" in rows.columns:
        # A customer with any ticket of unknown spend (in whichever arm) has unknown spend, not less spend.
        unknown = np.isnan(outcomes["next_spend"]) & (unit_codes >= 0)
        out.loc[(np.bincount(unit_codes[unknown], minlength=len(unit_values)) > 0)[group_unit], "next_spend"] = np.nan

    for covariate in (c for c in PRE_PERIOD_COVARIATES if c in rows.columns):  # first known value
        first = _first_known(unit_codes, unit_first_row, rows[covariate].notna().to_numpy(dtype=bool))
        out[covariate] = _take(rows[covariate], first[group_unit])
    if "channel" in rows.columns:
        # A customer's segment is the channel of their first ticket: chosen before any reply, so
        # before the SLA could act on it. Stable order by creation time, missing times last; no
        # sort when the tickets are in time order already.
        order = None
        if "created_at" in rows.columns and not rows["created_at"].is_monotonic_increasing:
            order = rows["created_at"].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
        first = _first_known(unit_codes, unit_first_row, rows["channel"].notna().to_numpy(dtype=bool), order)
        out["first_channel"] = _take(rows["channel"], first[group_unit])
    out["repeat_rate"] = out["repeat_sum"] / out["tickets"]
    return out


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """``pandas.factorize(values, sort=True)``, and the first row of each value.

    Returns
    -------
    codes : numpy.ndarray
        Code of each row in sorted order of the values, ``-1`` where the value is missing.
    uniques : pandas.Index
        The values, sorted.
    first_row : numpy.ndarray
        Position of each value's first row.
    """
    codes, uniques = pd.factorize(values)
    if uniques.dtype == object and pd.api.types.infer_dtype(uniques, skipna=False) == "mixed-integer":
        # pandas sorts labels of mixed type its own way (numbers first): let it.
        codes, uniques = pd.factorize(values, sort=True)
        return codes, uniques, first_positions(codes, np.flatnonzero(codes >= 0), len(uniques))
    first_row = first_appearances(codes)
    sorter = uniques.argsort()  # what factorize(sort=True) and groupby(sort=True) sort by
    rank = np.empty(len(uniques), dtype=np.intp)
    rank[sorter] = np.arange(len(uniques))
    codes = np.where(codes >= 0, rank[codes], -1) if len(uniques) else codes
    return codes, uniques.take(sorter), first_row[sorter]


def _group_sums(group: np.ndarray, columns: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """``groupby(group).sum(min_count=1)`` of each column, bit for bit as pandas computes it.

    NaN is skipped and a group without a value is NaN. pandas adds a group's values in row order
    with Kahan compensation, which a plain running sum (:func:`numpy.bincount`) matches only for
    groups of one or two values (the first addition is exact); larger groups are summed again by
    :func:`_kahan_sums`. The last bit matters: rank statistics downstream (e.g. a Mann-Whitney
    test on spend per customer) see ties appear or vanish with it.

    Parameters
    ----------
    group : numpy.ndarray of int
        Group of each row, ``0..size-1``.
    columns : dict of str to numpy.ndarray of float
        Values per row.
    size : int
        Number of groups.
    """
    rows_per_group = np.bincount(group, minlength=size)
    plan_for_all_rows = None  # shared by the columns without a missing value
    sums = {}
    for name, values in columns.items():
        known = ~np.isnan(values)
        complete = known.all()
        column_group, values = (group, values) if complete else (group[known], values[known])
        counts = rows_per_group if complete else np.bincount(column_group, minlength=size)
        total = np.bincount(column_group, weights=values, minlength=size).astype(float, copy=False)
        total[counts == 0] = np.nan
        if not complete:
            plan = _kahan_plan(column_group, counts)
        else:
            if plan_for_all_rows is None:
                plan_for_all_rows = _kahan_plan(column_group, counts)
            plan = plan_for_all_rows
        total[plan[0]] = _kahan_sums(plan, values)
        sums[name] = total
    return sums


def _kahan_plan(group: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where the values of each group with more than two rows lie, for :func:`_kahan_sums`.

    Returns
    -------
    groups : numpy.ndarray
        Those groups, longest first.
    rows : numpy.ndarray
        Their rows, group after group (in that order), each group's rows in row order.
    starts, lengths : numpy.ndarray
        Where each group's rows begin in ``rows``, and how many there are.
    """
    rows = np.flatnonzero(counts[group] > 2)
    rows = rows[np.argsort(group[rows], kind="stable")]  # each group's rows together, in row order
    sorted_group = group[rows]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]]) if rows.size else rows
    lengths = counts[sorted_group[starts]]
    longest_first = np.argsort(-lengths, kind="stable")  # groups still adding at step k are a prefix
    return sorted_group[starts[longest_first]], rows, starts[longest_first], lengths[longest_first]


def _kahan_sums(plan: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], values: np.ndarray) -> np.ndarray:
    """Kahan-compensated sum of each planned group's values in row order, as pandas' cython group sum.

    Vectorized over groups: step ``k`` adds every group's ``k``-th value at once.
    """
    _, rows, starts, lengths = plan
    values = values[rows]
    total, compensation = np.zeros(starts.size), np.zeros(starts.size)
    for k in range(int(lengths[0]) if lengths.size else 0):
        n = int(np.searchsorted(-lengths, -k, side="left"))  # groups with more than k values
        with np.errstate(invalid="ignore"):  # inf - inf, as in pandas, which resets the compensation
            y = values[starts[:n] + k] - compensation[:n]
            t = total[:n] + y
            error = (t - total[:n]) - y
        error[~np.isfinite(error)] = 0.0
        compensation[:n], total[:n] = error, t
    return total


def _first_known(codes: np.ndarray, first_row: np.ndarray, known: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Each code's first row, in ``order`` (default: row order), among the rows where ``known``; -1 if none.

    ``first_row`` (each code's first row of all) is the answer when every row is known and in order.
    """
    has_code = codes >= 0
    if order is None:
        if (known | ~has_code).all():
            return first_row
        order = np.arange(len(codes))
    return first_positions(codes, order[(known & has_code)[order]], len(first_row))


def _take(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions`` (``-1``: missing), keeping the dtype as ``groupby().first()`` does."""
    return pd.Series(values.array.take(positions, allow_fill=True), dtype=values.dtype)


def _key_dtype(keys: pd.Series, first_rows: np.ndarray, joined: bool):
    """The dtype :func:`customer_table`'s groupby on text keys gave a key column (kept as it was).

    The groupby ran on a frame built from ``keys.to_numpy()`` (text came back as inferred
    ``str``); the unit was then the key of joins with per-customer values, which cast it to
    ``object`` when its dtype differed from theirs. Both steps are replayed on the first row of one
    or two keys, which decides the dtype, or of every key for ``object`` keys, whose inferred
    dtype may depend on any of them.
    """
    sample = keys.iloc[first_rows if keys.dtype == object else first_rows[:2]]
    name = keys.name
    grouped = pd.DataFrame({name: sample.to_numpy()}).groupby(name, sort=True).size().reset_index()[[name]]
    if joined:
        grouped = grouped.join(sample.to_frame().groupby(name, sort=True).size().rename(f"{name} rows"), on=name)
    return grouped[name].dtype
