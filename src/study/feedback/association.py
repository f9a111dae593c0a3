"""How each theme goes with CSAT and repeat purchase among the customers who wrote a comment.

For each theme and outcome: the difference in the outcome's mean between comments that name the
theme and comments that do not, by least squares with the known confounders (category, channel,
loyalty tier) as fixed effects where the data has them; standard errors clustered by customer where
``customer_id`` exists (a customer's tickets are not independent), heteroskedasticity-robust (HC1)
otherwise. Across themes, p-values are adjusted by Holm (the family-wise error) and by
Benjamini-Hochberg (the false discovery rate), one family per outcome.

These are associations: who writes a comment is self-selected (angry and delighted customers write
more), themes are read from words, and the comparison holds fixed only the columns named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from study.core.results import Estimate, Skipped
from study.stats.cluster import cr1_factor, few_clusters_df
from study.stats.multiple import benjamini_hochberg, holm
from study.stats.ols import normal_equations

CONFOUNDERS = ("category", "channel", "loyalty_tier")
OUTCOMES = {"csat": ("CSAT", "points"), "repeat_purchase": ("repeat purchase", "percentage points")}
MIN_WITH = 10  # comments naming the theme (and not naming it) that a comparison needs


def design(rows: pd.DataFrame, theme: pd.Series, confounders: list[str],
           dummies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Intercept, the theme (0/1) and one dummy per confounder level but the first.

    ``dummies`` are the confounders' dummies when already built (:func:`confounder_dummies`): they are the same
    for every theme of an outcome.
    """
    if dummies is None:
        dummies = confounder_dummies(rows, confounders)
    return pd.concat([pd.Series(1.0, index=rows.index, name="const"), theme.astype(float).rename("theme"), dummies],
                     axis=1)


def confounder_dummies(rows: pd.DataFrame, confounders: list[str]) -> pd.DataFrame:
    """One dummy per confounder level but the first, in the order of ``confounders``."""
    parts = [pd.get_dummies(rows[column].astype(str), prefix=column, drop_first=True, dtype=float)
             for column in confounders]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=rows.index)


def clusters(rows: pd.DataFrame, codes: np.ndarray | None = None) -> np.ndarray | None:
    """Each row's customer as a cluster number from 0 (a row without a customer is a cluster of its own); None when
    the data has no customer column or a single customer. ``codes`` are ``pd.factorize(rows["customer_id"])[0]``
    when already computed."""
    if "customer_id" not in rows.columns:
        return None
    groups = pd.factorize(rows["customer_id"])[0] if codes is None else codes.copy()
    if groups.max(initial=-1) + 1 < 2:  # fewer than two customers (factorize numbers them from 0, missing -1)
        return None
    # A ticket without a customer is its own cluster, not one cluster with every other such ticket.
    missing = groups < 0
    groups[missing] = groups.max() + 1 + np.arange(missing.sum())
    return groups


def present_confounders(rows: pd.DataFrame) -> list[str]:
    """The confounders the data has with more than one value among ``rows``."""
    return [c for c in CONFOUNDERS if c in rows.columns and rows[c].nunique(dropna=True) > 1]


def shared_design(rows: pd.DataFrame, customer_codes: np.ndarray | None = None) -> dict:
    """What the comparisons of every theme on ``rows`` share: ``confounders``, their ``dummies``, the cluster
    ``groups`` (None without customers) and the number of ``customers``.

    ``customer_codes`` are the rows' customers as integers (-1 for none) when a larger table's were computed
    already (``pd.factorize`` of 2 million text ids takes seconds); they are numbered again from 0 here.
    """
    confounders = present_confounders(rows)
    customers, groups = 0, None
    if "customer_id" in rows.columns:
        codes = pd.factorize(rows["customer_id"])[0] if customer_codes is None else _numbered_from_0(customer_codes)
        customers = int(codes.max(initial=-1)) + 1  # the customers of rows, as nunique() counts them
        groups = clusters(rows, codes) if customers >= 2 else None
    dummies = confounder_dummies(rows, confounders)
    return {"confounders": confounders, "dummies": dummies, "groups": groups,
            "customers": customers if groups is not None else 0, "design": _design_columns(dummies)}


def _numbered_from_0(codes: np.ndarray) -> np.ndarray:
    """Integer labels (-1 for none) renumbered 0, 1, ... in the order of their values, -1 kept."""
    out = np.full(len(codes), -1, dtype=np.intp)
    labelled = codes >= 0
    out[labelled] = np.unique(codes[labelled], return_inverse=True)[1]
    return out


def _design_columns(dummies: pd.DataFrame) -> np.ndarray:
    """The design of :func:`design` as the array it becomes, its theme column left to fill (row 1 of the
    transposed array), laid out in memory as pandas lays out ``design(...).to_numpy()`` (column after column), so
    every fit computes on the same array as before."""
    columns = np.empty((2 + dummies.shape[1], len(dummies)))
    columns[0] = 1.0
    columns[2:] = dummies.to_numpy(dtype=float).T
    return columns


def theme_effect(rows: pd.DataFrame, theme: pd.Series, outcome: str, alpha: float, name: str,
                 theme_words: str, shared: dict | None = None) -> Estimate | Skipped:
    """The adjusted difference in ``outcome`` between comments naming the theme and the others.

    Parameters
    ----------
    rows : pandas.DataFrame
        Comments with a value of ``outcome`` (no missing confounder).
    theme : pandas.Series of bool
        Whether each of ``rows`` names the theme.
    outcome : str
        ``csat`` or ``repeat_purchase``.
    alpha : float
    name : str
        The estimate's machine name.
    theme_words : str
        The theme in words for the label.
    shared : dict, optional
        What every theme of the outcome shares (:func:`shared_design`), built once by :func:`associations`.
    """
    section = f"association of {theme_words} with {OUTCOMES[outcome][0]}"
    with_theme = int(theme.sum())
    if min(with_theme, len(theme) - with_theme) < MIN_WITH:
        return Skipped(section, f"{with_theme} of {len(theme)} comments with {OUTCOMES[outcome][0]} name the theme; "
                                f"a comparison needs at least {MIN_WITH} with and {MIN_WITH} without")
    shared = shared or shared_design(rows)
    confounders, groups = shared["confounders"], shared["groups"]
    columns = shared["design"] if "design" in shared else _design_columns(shared["dummies"])
    columns[1] = theme.to_numpy(dtype=float)
    X = columns.T  # design(rows, theme, confounders, shared["dummies"]).to_numpy(), built once per outcome
    y = rows[outcome].astype(float)
    fitted = robust_difference(X, y.to_numpy(), groups, alpha)
    errors = (f"standard errors clustered by customer ({shared['customers']} customers)" if groups is not None
              else "heteroskedasticity-robust (HC1) standard errors")
    if fitted is None:
        return Skipped(section, f"the comments naming the theme cannot be told apart from "
                                f"{' and '.join(c.replace('_', ' ') for c in confounders) or 'the others'}: the "
                                "theme goes with their values exactly (or nearly)")
    value, se, low, high, p = fitted
    adjusted = f" adjusted for {', '.join(c.replace('_', ' ') for c in confounders)}" if confounders else ""
    model = f"{outcome} ~ theme" + "".join(f" + C({c})" for c in confounders)
    return Estimate(name, f"{OUTCOMES[outcome][0]}: comments naming {theme_words} minus the others{adjusted}",
                    value, se, low, high, p, len(rows),
                    f"least squares{adjusted}; {errors}", 1 - alpha,
                    {"comments with the theme": with_theme, "mean with": float(y[theme.to_numpy()].mean()),
                     "mean without": float(y[~theme.to_numpy()].mean())}, model)


def robust_difference(X: np.ndarray, y: np.ndarray, groups: np.ndarray | None,
                      alpha: float) -> tuple[float, float, float, float, float] | None:
    """The least-squares coefficient of ``X``'s second column: value, standard error, interval and p-value.

    The numbers of statsmodels' ``OLS(y, X).fit(**cluster_cov_kwds(groups))`` (CR1, with Student's t on G - 1
    degrees of freedom when the G clusters are few: :func:`study.regression.fitting.cluster_cov_kwds`), or of
    ``cov_type="HC1"`` (the normal) without ``groups``. The coefficients come from the normal equations
    (:func:`study.stats.ols.normal_equations`) and the theme's variance from the CR1 sandwich in closed form: on
    2.2 million comments statsmodels' SVD and its cluster sums took 6.4 s a fit. HC1 is the CR1 sandwich with
    every row its own cluster: both scale by n / (n - k). None when the design's columns are (nearly) collinear:
    a theme named exactly in one category, say, cannot be told apart from it, and statsmodels' pseudo-inverse
    then returns a meaningless number.

    Parameters
    ----------
    X : numpy.ndarray, (n, k)
        The design; column 1 is the theme.
    y : numpy.ndarray, (n,)
    groups : numpy.ndarray of int or None
        Each row's cluster, numbered from 0 (:func:`clusters`); None for HC1.
    alpha : float
    """
    solved = normal_equations(X, y)
    if solved is None:
        return None
    beta, inverse, _ = solved
    # Only the theme's variance is needed: with B = (X'X)^-1, [B S'S B']_11 = sum over clusters of the squared sum of
    # the rows' (B_1 . x_i) e_i, one number a row instead of a row of k scores.
    influence = (X @ inverse[1]) * (y - X @ beta)
    if groups is None:
        per_cluster, clusters, t_df = influence, len(y), None
    else:
        per_cluster = np.bincount(groups, weights=influence)
        clusters = int(np.count_nonzero(np.bincount(groups)))
        t_df = few_clusters_df(clusters)
    se = float(np.sqrt(cr1_factor(clusters, len(y), X.shape[1]) * (per_cluster @ per_cluster)))
    reference = stats.t(t_df) if t_df is not None else stats.norm()
    value = float(beta[1])
    critical = float(reference.ppf(1 - alpha / 2))
    p = float(2 * reference.sf(abs(value / se))) if se > 0 else float("nan")
    return value, se, value - critical * se, value + critical * se, p


def adjust(estimates: dict[str, Estimate]) -> dict[str, Estimate]:
    """The same estimates with Holm and Benjamini-Hochberg p-values across them in ``extra``."""
    if not estimates:
        return {}
    names = list(estimates)
    raw = [estimates[n].p_value for n in names]
    out = {}
    for name, h, b in zip(names, holm(raw), benjamini_hochberg(raw)):
        e = estimates[name]
        out[name] = Estimate(e.name, e.label, e.value, e.se, e.ci_low, e.ci_high, e.p_value, e.n, e.method,
                             e.ci_level, {**e.extra, "p_holm": float(h), "p_bh": float(b), "family": len(names)},
                             e.model)
    return out


def associations(comments: pd.DataFrame, themes: pd.DataFrame, alpha: float) -> dict[str, dict[str, Estimate | Skipped]]:
    """Outcome -> theme -> the adjusted difference (or why not), Holm and BH within each outcome.

    Parameters
    ----------
    comments : pandas.DataFrame
        The tickets with a comment, with the outcome and confounder columns the data has.
    themes : pandas.DataFrame
        One boolean column per theme, indexed like ``comments``.
    alpha : float
    """
    out = {}
    codes = pd.factorize(comments["customer_id"])[0] if "customer_id" in comments.columns else None
    for outcome in OUTCOMES:
        if outcome not in comments.columns:
            continue
        known = comments[outcome].notna()
        for c in present_confounders(comments):
            known &= comments[c].notna()
        rows = comments[known]
        # Every theme's design differs from the others only in the theme's column.
        shared = shared_design(rows, None if codes is None else codes[known.to_numpy()])
        named = themes[known.to_numpy()]
        found = {}
        for theme in themes.columns:
            found[theme] = theme_effect(rows, named[theme], outcome, alpha,
                                        f"feedback_{outcome}_{theme}", theme.replace("_", " "), shared)
        fitted = adjust({t: e for t, e in found.items() if isinstance(e, Estimate)})
        out[outcome] = {t: fitted.get(t, e) for t, e in found.items()}
    return out
