"""Design checks of an experiment: sample-ratio mismatch and covariate balance between arms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from study.core.results import Estimate, Skipped


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
