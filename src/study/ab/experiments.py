"""A/B analysis: sample-ratio check, covariate balance, arm comparisons with lift intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from study.ab.customers import first_appearances
from study.core.accounting import RowLedger
from study.core.results import Estimate
from study.stats.cluster import cluster_robust_cov


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
    first_rows = first_appearances(codes)
    if mixed.any():
        first_rows = (np.cumsum(~mixed[codes]) - 1)[first_rows[~mixed[codes[first_rows]]]]  # positions among the kept
    units = rows[[unit, arm, *unit_columns]].iloc[first_rows]
    return ExperimentUnits(rows, units.reset_index(drop=True), ledger, int(mixed.sum()))
