"""A/B analysis: sample-ratio check, covariate balance, arm comparisons with lift intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from study.core.accounting import RowLedger
from study.core.words import METRIC_WORDS
from study.core.results import Estimate, format_p
from study.stats.sandwich import cluster_robust_cov


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-square test of the split of randomized units against the planned split.

    Attributes
    ----------
    counts : dict
        Units per arm.
    expected_share : dict
        Planned share per arm.
    chi2, p_value : float
    mismatch : bool
        True when ``p_value < alpha``: the split is not what the design promised, and effects
        should not be trusted until the cause is found.
    alpha : float
    """

    counts: dict
    expected_share: dict
    chi2: float
    p_value: float
    mismatch: bool
    alpha: float


def srm_check(units: pd.Series, expected_share: dict[str, float] | None = None, alpha: float = 0.001) -> SampleRatioCheck:
    """Sample-ratio-mismatch test on one row per randomized unit.

    Parameters
    ----------
    units : pandas.Series
        The arm of each randomized unit (one entry per unit).
    expected_share : dict, optional
        Planned share per arm; defaults to an equal split over the arms seen.
    alpha : float
        Threshold below which the split is flagged. 0.001 is customary: the check is run on every
        experiment, and a false alarm stops a launch.

    Returns
    -------
    SampleRatioCheck
    """
    return srm_from_counts(units.value_counts().to_dict(), expected_share, alpha)


def srm_from_counts(counts: dict, expected_share: dict[str, float] | None = None, alpha: float = 0.001) -> SampleRatioCheck:
    """Sample-ratio-mismatch test from units per arm (see :func:`srm_check`).

    Raises
    ------
    ValueError
        When units sit in an arm the plan does not have: that is a mismatch no split can test.
    """
    arms = sorted(counts) if expected_share is None else list(expected_share)
    unplanned = sorted(str(a) for a in counts if a not in arms and counts[a])
    if unplanned:
        raise ValueError(f"units in arms the plan does not have: {', '.join(unplanned)} (planned: {', '.join(map(str, arms))})")
    if expected_share is None:
        expected_share = {arm: 1 / len(arms) for arm in arms}
    observed = np.array([counts.get(arm, 0) for arm in arms], dtype=float)
    share = np.array([expected_share[arm] for arm in arms], dtype=float)
    expected = observed.sum() * share / share.sum()
    chi2, p = stats.chisquare(observed, expected)
    return SampleRatioCheck(
        {str(a): int(c) for a, c in zip(arms, observed)}, {str(a): float(s) for a, s in zip(arms, share)},
        float(chi2), float(p), bool(p < alpha), alpha,
    )


def standardized_mean_differences(units: pd.DataFrame, arm: str, treatment: str, covariates: list[str]) -> pd.DataFrame:
    """Covariate balance: difference in means over the pooled SD, per covariate.

    Text covariates are expanded to one 0/1 indicator per level. ``|SMD| < 0.1`` is the usual
    sign of good balance.

    Parameters
    ----------
    units : pandas.DataFrame
        One row per randomized unit.
    arm : str
        Arm column.
    treatment : str
        Treatment arm's value; every other value counts as control.
    covariates : list of str
        Pre-treatment covariates.

    Returns
    -------
    pandas.DataFrame
        Columns ``control mean``, ``treatment mean``, ``SMD``, indexed by covariate.
    """
    treated = (units[arm] == treatment).to_numpy()
    rows = {}
    for covariate in covariates:
        values = units[covariate]
        if pd.api.types.is_numeric_dtype(values):
            columns = {covariate: values.astype(float)}
        else:
            columns = {f"{covariate}={level}": (values == level).astype(float) for level in sorted(values.dropna().unique())}
        for name, column in columns.items():
            x = column.to_numpy()
            t, c = x[treated & ~np.isnan(x)], x[~treated & ~np.isnan(x)]
            # Undefined (fewer than two units in an arm) stays NaN: it must not read as perfect balance.
            pooled_sd = np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2) if min(t.size, c.size) > 1 else np.nan
            smd = (t.mean() - c.mean()) / pooled_sd if pooled_sd > 0 else (0.0 if pooled_sd == 0 else np.nan)
            rows[name] = {"control mean": c.mean(), "treatment mean": t.mean(), "SMD": smd}
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True)
class ArmComparison:
    """Treatment versus control on one metric.

    Attributes
    ----------
    metric : str
    n_control, n_treatment : int
        Rows per arm.
    mean_control, mean_treatment : float
    difference : Estimate
        Treatment minus control, in the metric's unit.
    lift : Estimate
        Relative lift (treatment / control - 1); interval by the delta method on the log scale.
    """

    metric: str
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    difference: Estimate
    lift: Estimate


def compare_arms(
    frame: pd.DataFrame,
    metric: str,
    arm: str = "variant",
    control: str = "control",
    treatment: str = "treatment",
    cluster: str | None = None,
    alpha: float = 0.05,
    label: str | None = None,
    cluster_codes: np.ndarray | None = None,
) -> ArmComparison:
    """Difference in means between two arms, with its interval and p-value, and the relative lift.

    Without ``cluster`` this is Welch's unequal-variance t-test (the regression of the metric on
    the arm indicator with HC2 errors has exactly Welch's standard error; the t reference uses the
    Welch-Satterthwaite degrees of freedom). With ``cluster`` (e.g. tickets of customers randomized
    as a whole) the standard error is cluster-robust (CR1) and the reference is normal.
    A 0/1 metric gives the difference in proportions with unpooled variance.

    The relative lift's interval comes from the delta method on ``log(mean_t / mean_c)`` with the
    same covariance, then exponentiated, so it cannot cross -100%.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with a value of ``metric`` and ``arm`` in ``{control, treatment}``.
    metric, arm, control, treatment : str
    cluster : str, optional
        Column of the randomized unit when rows are finer than units.
    alpha : float
    label : str, optional
        Words for the metric; defaults to its name.
    cluster_codes : numpy.ndarray, optional
        ``pandas.factorize(frame[cluster])[0]``, when the caller compares several metrics on the
        same rows: factorizing ten million ids once instead of once per metric.

    Returns
    -------
    ArmComparison
    """
    # Only the columns used are cut down to the rows kept: copying every column of a
    # ten-million-row frame once per metric cost more than the statistics.
    keep = (frame[arm].isin([control, treatment]) & frame[metric].notna()).to_numpy(dtype=bool)
    y = frame[metric].to_numpy(dtype=float, na_value=np.nan)[keep]
    treated = frame[arm].eq(treatment).to_numpy(dtype=bool, na_value=False)[keep].astype(float)
    n_t, n_c = int(treated.sum()), int((1 - treated).sum())
    if n_t < 2 or n_c < 2:
        raise ValueError(f"'{metric}': need at least 2 rows per arm, got control {n_c}, treatment {n_t}")
    design = np.column_stack([np.ones_like(y), treated])
    if cluster is None:
        fit = sm.OLS(y, design).fit(cov_type="HC2")
        var_t, var_c = y[treated == 1].var(ddof=1) / n_t, y[treated == 0].var(ddof=1) / n_c
        df = (var_t + var_c) ** 2 / (var_t**2 / (n_t - 1) + var_c**2 / (n_c - 1))
        reference = stats.t(df)
        se_words = "Welch t-test (unequal variances)"
        b0, b1 = float(fit.params[0]), float(fit.params[1])
        cov = np.asarray(fit.cov_params())
    else:
        # OLS on [1, treated] in closed form: b0 is the control mean, b1 the difference in means,
        # and each row's residual is its value minus its arm's mean. The CR1 sandwich is then
        # statsmodels' cov_type="cluster" without a fit object or a sort of the cluster labels.
        is_treated = treated == 1
        mean_c, mean_t = float(y[~is_treated].mean()), float(y[is_treated].mean())
        b0, b1 = mean_c, mean_t - mean_c
        codes = (pd.factorize(frame[cluster])[0] if cluster_codes is None else np.asarray(cluster_codes))[keep]
        cov = cluster_robust_cov(design, y - np.where(is_treated, mean_t, mean_c), codes)
        reference = stats.norm()
        se_words = f"difference in means, SE clustered by {cluster} (CR1), normal reference"
    crit = reference.ppf(1 - alpha / 2)

    se = float(np.sqrt(cov[1, 1]))
    name = label or metric
    difference = Estimate(
        name=f"{metric}_difference", label=f"{name}: treatment minus control", value=b1, se=se,
        ci_low=b1 - crit * se, ci_high=b1 + crit * se, p_value=float(2 * reference.sf(abs(b1) / se)),
        n=n_t + n_c, method=se_words, ci_level=1 - alpha,
    )

    if b0 > 0 and b0 + b1 > 0:
        gradient = np.array([1 / (b0 + b1) - 1 / b0, 1 / (b0 + b1)])
        log_ratio, log_se = np.log((b0 + b1) / b0), float(np.sqrt(gradient @ cov @ gradient))
        lift = Estimate(
            name=f"{metric}_relative_lift", label=f"{name}: relative lift (treatment / control - 1)",
            value=float(np.expm1(log_ratio)), se=float(np.exp(log_ratio) * log_se),
            ci_low=float(np.expm1(log_ratio - crit * log_se)), ci_high=float(np.expm1(log_ratio + crit * log_se)),
            p_value=float(2 * reference.sf(abs(log_ratio) / log_se)), n=n_t + n_c,
            method=f"delta method on log(mean_t / mean_c); {se_words}", ci_level=1 - alpha,
        )
    else:
        nan = float("nan")
        lift = Estimate(f"{metric}_relative_lift", f"{name}: relative lift (undefined: control mean not positive)",
                        nan, None, None, None, None, n_t + n_c, "not defined", 1 - alpha)
    return ArmComparison(metric, n_c, n_t, b0, b0 + b1, difference, lift)


@dataclass
class ExperimentUnits:
    """The rows of an experiment that can be analysed, and what was set aside."""

    rows: pd.DataFrame
    units: pd.DataFrame
    ledger: RowLedger
    units_in_several_arms: int


def experiment_rows(
    tickets: pd.DataFrame, unit: str = "customer_id", arm: str = "variant", arms: tuple[str, str] = ("control", "treatment"),
    unit_columns: list[str] = (),
) -> ExperimentUnits:
    """Keep rows with a known arm whose unit was assigned to one arm only.

    Parameters
    ----------
    tickets : pandas.DataFrame
    unit : str
        Column of the randomized unit.
    arm : str
        Arm column.
    arms : tuple of str
        Control and treatment values.
    unit_columns : list of str
        Unit-level columns (pre-period covariates) to carry into ``units``.

    Returns
    -------
    ExperimentUnits
        Rows kept, one row per unit (first row of each), the row ledger, and how many units
        appeared in more than one arm (their rows are dropped: their assignment is unknowable).
    """
    ledger = RowLedger(tickets)
    ledger.keep(tickets[arm].notna(), f"no {arm}")
    rows = ledger.keep(ledger.frame[arm].isin(list(arms)), f"{arm} not one of {', '.join(arms)}")
    # Integer codes instead of a groupby on text keys. A missing unit gets a code of its own, so
    # that it is one "unit" to drop_duplicates as before, but it is never counted as mixed (a
    # groupby leaves missing keys out).
    codes, values = pd.factorize(rows[unit], use_na_sentinel=False)
    is_unit = ~pd.isna(values)
    arms_seen = sum(
        np.bincount(codes[rows[arm].eq(a).to_numpy(dtype=bool, na_value=False)], minlength=len(values)) > 0
        for a in dict.fromkeys(arms)
    )
    mixed = (arms_seen > 1) & is_unit
    rows = ledger.keep(pd.Series(~mixed[codes], index=rows.index), f"{unit} seen in several arms")
    # A mixed unit loses all its rows, so every unit kept keeps its first row.
    first_rows = _first_appearances(codes)
    if mixed.any():
        first_rows = (np.cumsum(~mixed[codes]) - 1)[first_rows[~mixed[codes[first_rows]]]]  # positions among the kept
    units = rows[[unit, arm, *unit_columns]].iloc[first_rows]
    return ExperimentUnits(rows, units.reset_index(drop=True), ledger, int(mixed.sum()))


def _first_appearances(codes: np.ndarray) -> np.ndarray:
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


def _first_positions(codes: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
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
    first[seen] = positions[_first_appearances(renumbered)]
    return first


PRE_PERIOD_COVARIATES = ["tenure_days", "prior_orders", "pre_spend", "loyalty_tier"]
# What the SLA experiment reads of a ticket table: a 10M-ticket run loads these, not every column.
TICKET_COLUMNS = [
    "customer_id", "variant", "experiment_id", "created_at", "channel", *PRE_PERIOD_COVARIATES,
    "response_log2_hours", "csat", "csat_answered", "repeat_purchase", "next_spend",
]

# metric column -> words; the order is the report's order.
SLA_METRICS = {
    "response_log2_hours": "First response time (log2 hours)",
    "csat": "CSAT (1-5, answered surveys)",
    "repeat_purchase": "Repeat purchase (share of tickets)",
    "csat_answered": "Survey response rate",
    "next_spend": "Spend in the follow-up window",
}

# Metrics whose relative lift is meaningful (a positive level; not a log time).
LIFT_METRICS = ("csat", "repeat_purchase", "next_spend", "customer_spend")


class Comparisons(dict):
    """``{metric: ArmComparison}`` of the metrics that could be compared; ``skipped`` holds
    ``{metric: reason}`` for the others."""

    def __init__(self, *args, skipped: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped = dict(skipped or {})


def comparison_problem(rows: pd.DataFrame, metric: str, unit: str = "customer_id", arm: str = "variant",
                       arms: tuple[str, str] = ("control", "treatment")) -> str | None:
    """Why treatment and control cannot be compared on ``metric`` over ticket ``rows``, or ``None``:
    fewer than two customers with a value in an arm, or one value in both arms."""
    from study.core import degenerate

    known = rows[rows[metric].notna()]
    customers = {a: int(known.loc[known[arm] == a, unit].nunique()) for a in arms}
    words = SLA_METRICS.get(metric, metric).split(" (")[0]
    words = words if words.startswith("CSAT") else words[:1].lower() + words[1:]
    reason = degenerate.arms(customers, units=f"customers with {'a CSAT answer' if words == 'CSAT' else 'a known ' + words}")
    if reason:
        return reason
    if metric == "repeat_purchase":
        return degenerate.bought_again(known)
    values = known[metric].astype(float).unique()
    if len(values) < 2:
        return f"{words} has one value ({values[0]:g}) in both arms: nothing to compare"
    return None


def sla_comparisons(rows: pd.DataFrame, unit: str = "customer_id", alpha: float = 0.05) -> Comparisons:
    """Treatment versus control on every SLA metric present, SEs clustered by randomized unit.

    A metric that cannot be compared (:func:`comparison_problem`) is left out, with its reason in
    the result's ``skipped``.
    """
    codes = pd.factorize(rows[unit])[0]
    out, skipped = {}, {}
    for metric, label in SLA_METRICS.items():
        if metric not in rows.columns or not rows[metric].notna().any():
            continue
        problem = comparison_problem(rows, metric, unit)
        if problem:
            skipped[metric] = problem
            continue
        comparison = compare_arms(rows, metric, cluster=unit, alpha=alpha, label=label, cluster_codes=codes)
        if not comparison.difference.se > 0:
            skipped[metric] = f"{label.split(' (')[0].lower() if metric != 'csat' else 'CSAT'} does not vary within either arm: its standard error is zero"
            continue
        out[metric] = comparison
    return Comparisons(out, skipped=skipped)


def comparison_estimates(comparisons: dict) -> list[Estimate]:
    """Each comparison's difference and lift, for the results file."""
    return [e for c in comparisons.values() for e in (c.difference, c.lift)]


class Effects(list):
    """The engine's comparisons (:class:`study.ab.abstats.Effect`); ``skipped`` holds ``{metric: reason}``
    for the whole-experiment comparisons that could not be estimated."""

    def __init__(self, effects=(), skipped: dict | None = None):
        super().__init__(effects)
        self.skipped = dict(skipped or {})


def sla_effects(aggregates, alpha: float = 0.05) -> Effects:
    """Every SLA metric compared (:func:`study.ab.abtest.compare_metrics`) with Holm and BH p-values;
    a metric that cannot be compared is left out with its reason (``skipped``)."""
    from study.ab import abtest

    skipped = {}
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregates, alpha=alpha, skipped=skipped))
    present = {e.metric for e in effects}
    reasons = {}
    for (_, metric, _), reason in skipped.items():
        if metric not in present:
            reasons.setdefault(metric, reason)
    if not effects and not reasons:
        from study.core import degenerate

        units = aggregates.unit_counts()
        reasons["every metric"] = degenerate.arms({arm: int(units.get(arm, 0)) for arm in ("control", "treatment")}) \
            or "no metric could be compared"
    return Effects(effects, reasons)


def sla_notes(rows: pd.DataFrame, comparisons: Comparisons, effects: Effects) -> list[str]:
    """What the SLA analysis skipped or left out, in words, for the results file: each comparison
    skipped with its reason, and the tickets without a first response time."""

    notes = [f"comparison of {METRIC_WORDS.get(m, m.replace('_', ' '))}: skipped, {r}" for m, r in effects.skipped.items()]
    notes += [f"ticket-level comparison of {METRIC_WORDS.get(m, m.replace('_', ' '))}: skipped, {r}"
              for m, r in comparisons.skipped.items()]
    untimed = int(rows["response_log2_hours"].isna().sum()) if "response_log2_hours" in rows.columns else 0
    if untimed:
        notes.append(f"first response time: {untimed:,} tickets with no first response time are left out of its comparison")
    return notes


def sla_power(aggregates, effects: Effects, relative_mde: float = 0.05, alpha: float = 0.05):
    """:func:`study.ab.abtest.power_table` over the metrics that could be compared (``effects``), as a
    table indexed by metric, or why there is none."""
    from dataclasses import replace

    from study.ab import abtest
    from study.core.results import Skipped

    compared = {e.metric for e in effects}
    kept = tuple(m for m in aggregates.metrics if m.name in compared)
    table = abtest.power_table(replace(aggregates, metrics=kept), relative_mde=relative_mde, alpha=alpha)
    if table.empty:

        why = "; ".join(f"{METRIC_WORDS.get(m, m.replace('_', ' '))}: {r}" for m, r in effects.skipped.items()) or "no metric to plan for"
        return Skipped("power", why)
    return table.set_index("metric")


def comparison_table(comparisons: dict[str, ArmComparison]) -> pd.DataFrame:
    """One row per metric: arm means, difference with interval and p-value, relative lift with interval."""
    lines = []
    for c in comparisons.values():
        lines.append({
            "metric": c.difference.label.split(":")[0],
            "control": c.mean_control, "treatment": c.mean_treatment,
            "difference": c.difference.value,
            f"difference {c.difference.ci_level:.0%} CI": f"{c.difference.ci_low:.3f} to {c.difference.ci_high:.3f}",
            "p-value": format_p(c.difference.p_value),
            "relative lift": f"{c.lift.value:+.1%}" if np.isfinite(c.lift.value) else "–",
            f"lift {c.lift.ci_level:.0%} CI": (f"{c.lift.ci_low:+.1%} to {c.lift.ci_high:+.1%}" if c.lift.ci_low is not None else "–"),
            "rows (control / treatment)": f"{c.n_control:,} / {c.n_treatment:,}",
        })
    return pd.DataFrame(lines).set_index("metric")


def srm_estimate(check: SampleRatioCheck) -> Estimate:
    """The sample-ratio check as an :class:`Estimate` (chi-square statistic and p-value) for the results file."""
    return Estimate(
        "sample_ratio_chi2", "Sample-ratio-mismatch chi-square statistic", check.chi2, None, None, None,
        check.p_value, int(sum(check.counts.values())), "Pearson chi-square against the planned split",
        1 - check.alpha, {"counts": check.counts, "expected_share": check.expected_share, "mismatch": check.mismatch},
    )


def srm_table(check: SampleRatioCheck) -> pd.DataFrame:
    """Units per arm against the planned split, with a total row (Skipped when no unit is left)."""
    total = sum(check.counts.values())
    if total == 0:
        from study.core.results import Skipped

        return Skipped("sample-ratio check", "no customer is left in the experiment to count")
    table = pd.DataFrame(
        {
            "units": pd.Series(check.counts, dtype=int),
            "share": {a: n / total for a, n in check.counts.items()},
            "planned share": check.expected_share,
        }
    )
    table.loc["total"] = [total, 1.0, 1.0]
    table["units"] = table["units"].astype(int)
    table.index.name = "arm"
    return table


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
        return codes, uniques, _first_positions(codes, np.flatnonzero(codes >= 0), len(uniques))
    first_row = _first_appearances(codes)
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
    return _first_positions(codes, order[(known & has_code)[order]], len(first_row))


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


def sla_unit_metrics(customers: pd.DataFrame) -> list:
    """The SLA experiment's metrics over customers: ticket-level ratios, and customer-level means
    adjusted by CUPED with pre-period spend where the data has it."""
    from study.ab.sufficient import Metric

    covariate = "pre_spend" if "pre_spend" in customers.columns else None
    metrics = [
        Metric("csat", "csat_sum", "ratio", denominator="surveys", label="CSAT (1-5), per answered survey"),
        Metric("repeat_purchase", "repeat_sum", "ratio", denominator="tickets", label="Repeat purchase, per ticket"),
        Metric("response_log2_hours", "log2_hours_sum", "ratio", denominator="tickets", label="First response (log2 hours), per ticket"),
        Metric("survey_response", "surveys", "ratio", denominator="tickets", label="Survey response rate, per ticket"),
        Metric("customer_repeat_rate", "repeat_rate", covariate=covariate, label="Repeat rate per customer (CUPED: pre-period spend)" if covariate else "Repeat rate per customer"),
    ]
    if "next_spend" in customers.columns and customers["next_spend"].notna().all():
        metrics.append(Metric("customer_spend", "next_spend", covariate=covariate,
                              label="Follow-up spend per customer (CUPED: pre-period spend)" if covariate else "Follow-up spend per customer"))
    return metrics


BOOTSTRAP_MAX_CUSTOMERS = 200_000


def robust_spend_table(customers: pd.DataFrame, alpha: float = 0.05, seed: int = 2026):
    """Follow-up spend per customer: Welch next to winsorized, trimmed, Mann-Whitney and bootstrap.

    Above :data:`BOOTSTRAP_MAX_CUSTOMERS` customers the bootstrap row says it was left out (see
    :func:`study.ab.robust.robust_effects`).

    Returns
    -------
    pandas.DataFrame or Skipped
        One row per method, or why the section was skipped (no ``next_spend``).
    """
    from study.ab import abtest, robust
    from study.core.results import Skipped

    from study.core import degenerate

    if "next_spend" not in customers.columns:
        return Skipped("heavy-tail comparison of spend", "the data has no next_spend")
    arms = customers["variant"]
    known = customers[customers["next_spend"].notna()]
    reason = degenerate.first(
        degenerate.arms({a: int((known["variant"] == a).sum()) for a in ("control", "treatment")}, units="customers with a known spend"),
        degenerate.constant(known, "next_spend", "nothing to compare"),
    )
    if reason:
        return Skipped("heavy-tail comparison of spend", reason)
    effects = robust.robust_effects(
        customers.loc[arms == "control", "next_spend"], customers.loc[arms == "treatment", "next_spend"],
        metric="customer_spend", alpha=alpha, seed=seed, label="Follow-up spend per customer",
        bootstrap_max_units=BOOTSTRAP_MAX_CUSTOMERS,
    )
    columns = ["method", "control", "treatment", "estimate", "CI low", "CI high", "p-value"]
    table = abtest.effects_table(effects)[columns].set_index("method")
    if "bootstrap_percentile" not in table.index:
        table.loc[f"bootstrap_percentile: left out above {BOOTSTRAP_MAX_CUSTOMERS:,} customers"] = np.nan
    return table


def segment_table(customers: pd.DataFrame, metrics: list, segments: list[str], alpha: float = 0.05):
    """Every metric within each segment, with Holm and Benjamini-Hochberg p-values over the whole family.

    Returns
    -------
    pandas.DataFrame or Skipped
        Exploratory comparisons, or why there are none (no segment column in the data).
    """
    from study.ab import abtest, aggregate
    from study.core.results import Skipped

    present = [s for s in segments if s in customers.columns and customers[s].nunique() > 1]
    if not present:
        return Skipped("segment breakdown", f"the data has none of the segment columns {', '.join(segments)}")
    effects, skipped = [], {}
    for segment in present:
        effects += abtest.compare_metrics(aggregate.aggregate_frame(customers, metrics, segments=[segment]), alpha=alpha,
                                          skipped=skipped)
    if not effects:
        return Skipped("segment breakdown", "no segment has a metric that can be compared between the arms"
                       " (each needs at least two customers with a value, and some variation, in each arm)")
    table = abtest.effects_table(abtest.adjust_p_values(effects))
    columns = ["segment", "metric", "control", "treatment", "estimate", "CI low", "CI high", "p-value", "p (Holm)", "p (BH)"]
    return table[columns].set_index(["segment", "metric"])


def effects_summary(effects: list):
    """The engine's comparisons as a reader wants them: one row per metric, interval and lift in one cell each.

    Skipped, with the reasons, when no metric could be compared (:func:`sla_effects`).
    """
    if not effects:
        from study.core.results import Skipped


        why = "; ".join(f"{METRIC_WORDS.get(m, m.replace('_', ' '))}: {r}" for m, r in getattr(effects, "skipped", {}).items())
        return Skipped("effects", why or "no metric could be compared")
    lines = []
    for e in effects:
        line = {
            "segment": ", ".join(f"{k}={v}" for k, v in e.segment.items()) or "all",
            "metric": e.label or e.metric, "comparison": f"{e.treatment} vs {e.control}", "method": e.method_code,
            "control": e.control_value, "treatment": e.treatment_value,
            "difference": e.estimate, f"{1 - e.alpha:.0%} CI": f"{e.ci_low:.3f} to {e.ci_high:.3f}", "p-value": e.p_value,
            "p (Holm)": e.adjusted_p_values.get("holm"), "p (BH)": e.adjusted_p_values.get("benjamini_hochberg"),
            f"relative lift ({1 - e.alpha:.0%} CI)": (f"{e.lift:+.1%} ({e.lift_ci_low:+.1%} to {e.lift_ci_high:+.1%})"
                                       if e.lift is not None and np.isfinite(e.lift) else "–"),
        }
        if "unadjusted" in e.extra:
            line["without CUPED"] = e.extra["unadjusted"]["estimate"]
            line["variance reduction"] = e.extra["variance_reduction"]
        lines.append(line)
    table = pd.DataFrame(lines)
    if (table["segment"] == "all").all():
        table = table.drop(columns="segment")
    if table["comparison"].nunique() == 1:
        table = table.drop(columns="comparison")
    return table.set_index([c for c in ("segment", "metric", "comparison") if c in table.columns])
