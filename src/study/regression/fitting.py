"""Fitting and reading the study's regressions: formulas from column names, model frames, OLS and logit with
clustered standard errors, coefficients and marginal effects as estimates, coefficient tables.

Any column of any frame can enter a model. patsy evaluates formula text as Python, so a name is never
pasted into a formula as it is: a plain identifier enters bare (``csat``, ``delivery_delay_days``,
the statsmodels term names readers know), anything else as ``Q('...')`` with the name written as a
Python string literal (:func:`term`), which patsy only looks up among the data's columns. Names that
would hide one of patsy's own functions (``C``, ``Q``, ``cr``, ...) are refused with a message.
"""

from __future__ import annotations

import ast
import keyword
import re

import numpy as np
import pandas as pd

from study.core.inference import WALD, Interval, wald_interval, wald_p_value
from study.core.results import Estimate, format_p
from study.core.tables import numbers_as_text
from study.stats.cluster import few_clusters_df, few_clusters_words
from study.stats.design import formula_model
from study.stats.margins import logit_marginal_effects
from study.stats.ols import CholeskyOLS
from study.stats.rank import RankedLogit

SPEED = "response_log2_hours"

# patsy's own names: a column called so would hide the function inside the formula (``C(category)``).
FORMULA_FUNCTIONS = frozenset({"I", "Q", "C", "ContrastMatrix", "Treatment", "Poly", "Sum", "Helmert", "Diff", "center",
                               "standardize", "scale", "bs", "cr", "cc", "te", "Intercept"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def term(name: str) -> str:
    """A column name as formula text: bare when it is a plain identifier, else ``Q('name')``.

    The quoted form is a Python string literal (``repr``), so patsy reads it as a name to look up
    among the data's columns, never as code; it is also the name statsmodels gives the coefficient.

    Parameters
    ----------
    name : str
        Any column name.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For a name that is not text, is empty, or is one of patsy's own functions
        (:data:`FORMULA_FUNCTIONS`), which a formula could no longer call.

    Examples
    --------
    >>> term("csat")
    'csat'
    >>> term("delay (days)")
    "Q('delay (days)')"
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a model column must be named by non-empty text, not {name!r}")
    if name in FORMULA_FUNCTIONS or name == "_cluster":
        # Patsy looks names up in the data before its own functions: a column C would hide C(...) from every term.
        raise ValueError(f"column {name!r} has the name of a formula function; copy it under another name to put it "
                         f"in a model (a column map's derive section can: derive: {{{name}_value: \"`{name}`\"}})")
    if _IDENTIFIER.match(name) and not keyword.iskeyword(name) and name not in ("True", "False", "None"):
        return name
    return f"Q({name!r})"


def column_of(text: str) -> str | None:
    """The column a term's text names: ``csat`` -> ``csat``, ``Q('a b')`` -> ``a b``; ``None`` for other text."""
    if _IDENTIFIER.match(text):
        return text
    if text.startswith("Q(") and text.endswith(")"):
        try:
            value = ast.literal_eval(text[2:-1])
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, str) else None
    return None


def formula(
    outcome: str, numeric: list[str], categorical: list[str] = (), splines: dict[str, int] | None = None,
    interactions: list[tuple[str, str]] = (),
) -> str:
    """Model formula from column names (any names: see :func:`term`); categorical terms enter as dummies.

    Parameters
    ----------
    outcome : str
    numeric : list of str
        Terms entered as they are (flags as 0/1).
    categorical : list of str
        Terms entered as ``C(name)`` (first level is the reference).
    splines : dict, optional
        ``{name: df}``: terms entered as a centred natural cubic regression spline ``cr(name, df=df)``.
    interactions : list of tuple
        Pairs entered as a product term ``a:b`` (main effects must be listed in ``numeric``).

    Returns
    -------
    str
    """
    terms = [term(n) for n in numeric] + [f"C({term(c)})" for c in categorical]
    # Centred so the spline does not duplicate the intercept.
    terms += [f"cr({term(n)}, df={int(df)}, constraints='center')" for n, df in (splines or {}).items()]
    terms += [f"{term(a)}:{term(b)}" for a, b in interactions]
    return f"{term(outcome)} ~ " + (" + ".join(terms) if terms else "1")


def model_frame(tickets: pd.DataFrame, columns: list[str], cluster: str | None) -> pd.DataFrame:
    """Plain columns for statsmodels: flags and nullable numbers to float, text to categories.

    Text becomes a Categorical with its values sorted, the levels patsy gives plain strings (the
    first is the reference). Ordered categories (response bands) keep their order, so their first
    level is the reference. With ``cluster``, ``_cluster`` holds its codes 0 .. G - 1 (as floats).
    """
    out = {}
    for column in columns:
        values = tickets[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[column] = values.cat.remove_unused_categories().array
        elif isinstance(values.dtype, pd.StringDtype) and not values.isna().any():
            # Text as a Categorical of its sorted values: the levels, reference and dummies patsy
            # would derive from plain strings, without patsy testing every value for missingness.
            # Typed text is encoded by its engine (Arrow's dictionary), a few times quicker than a
            # lookup of every value among the sorted levels, as below, with the same result.
            codes, levels = pd.factorize(values, sort=True)
            out[column] = pd.Categorical.from_codes(codes, categories=list(levels))
        elif pd.api.types.is_string_dtype(values):
            text = values.astype(str)
            out[column] = pd.Categorical(text, categories=sorted(text.unique()))
        else:
            out[column] = values.astype(float).to_numpy()
    frame = pd.DataFrame(out, index=tickets.index)
    if cluster is not None:
        # Codes as floats: statsmodels counts the clusters with np.unique, whose hash-based path
        # for integers (numpy 2.3+) is some twenty times slower than the sort it uses for floats.
        frame["_cluster"] = pd.factorize(tickets[cluster])[0].astype(float)
    return frame


def cluster_cov_kwds(groups: np.ndarray) -> dict:
    """statsmodels ``fit`` arguments for CR1 standard errors clustered by ``groups``, t(G - 1) when clusters are few.

    With fewer than :data:`study.stats.cluster.FEW_CLUSTERS` clusters ``use_t=True`` is added:
    statsmodels then takes intervals and p-values from Student's t with G - 1 degrees of freedom
    (its ``df_resid_inference``; for two-way clustering the smaller G), Stata's rule for
    ``regress, vce(cluster)``. With more clusters the normal is kept.

    Parameters
    ----------
    groups : numpy.ndarray
        Cluster label of each row (one column; two columns for two-way clustering).

    Returns
    -------
    dict
        ``{"cov_type": "cluster", "cov_kwds": {"groups": groups}}``, plus ``"use_t": True`` with few clusters.

    Examples
    --------
    >>> model.fit(**cluster_cov_kwds(frame["_cluster"].to_numpy()))
    """
    kwds = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    if few_clusters_df(groups) is not None:
        kwds["use_t"] = True
    return kwds


def _cov(frame: pd.DataFrame, cluster: str | None) -> dict:
    if cluster is None:
        return {"cov_type": "HC1"}
    return cluster_cov_kwds(frame["_cluster"].to_numpy())


def inference_df(fit) -> float | None:
    """Degrees of freedom of a fit's t reference (G - 1 when clustered), or ``None`` when it uses the normal."""
    if not getattr(fit, "use_t", False):
        return None
    return float(getattr(fit, "df_resid_inference", fit.df_resid))


def few_clusters_note(fit) -> str:
    """'; t(9) critical values: only 10 clusters (fewer than 50)' for a clustered fit with few clusters, else ''."""
    if getattr(fit, "cov_type", "") != "cluster" or not getattr(fit, "use_t", False):
        return ""
    clusters = int(fit.df_resid_inference) + 1
    return "; " + few_clusters_words(clusters) if few_clusters_df(clusters) is not None else ""


def _se_words(cluster: str | None) -> str:
    return f"SE clustered by {cluster}" if cluster else "heteroskedasticity-robust SE (HC1)"


def fit_ols(
    tickets: pd.DataFrame,
    outcome: str,
    numeric: list[str],
    categorical: list[str] = (),
    cluster: str | None = "customer_id",
    splines: dict[str, int] | None = None,
    interactions: list[tuple[str, str]] = (),
):
    """Ordinary least squares with robust standard errors.

    Parameters
    ----------
    tickets : pandas.DataFrame
        Rows to fit on; none may be missing a model column (use a :class:`RowLedger` first).
    outcome, numeric, categorical
        See :func:`formula`.
    cluster : str or None
        Column whose values define clusters for cluster-robust (CR1) standard errors; ``None``
        gives HC1. With fewer than 50 clusters, intervals and p-values use t(G - 1)
        (:func:`cluster_cov_kwds`).
    splines, interactions
        See :func:`formula`.

    Returns
    -------
    statsmodels.regression.linear_model.RegressionResultsWrapper
        Of a :class:`study.stats.ols.CholeskyOLS` (statsmodels' ``OLS`` solved by the normal equations).
    """
    frame = model_frame(tickets, [outcome, *numeric, *categorical, *(splines or {})], cluster)
    text = formula(outcome, list(numeric), list(categorical), splines, list(interactions))
    return formula_model(CholeskyOLS, text, frame).fit(**_cov(frame, cluster))


def fit_logit(
    tickets: pd.DataFrame,
    outcome: str,
    numeric: list[str],
    categorical: list[str] = (),
    cluster: str | None = "customer_id",
):
    """Logistic regression with robust standard errors (see :func:`fit_ols` for the arguments).

    The model is a :class:`study.stats.rank.RankedLogit`: statsmodels' ``Logit`` whose rank check skips
    the QR decomposition of a design certified to be of full rank (same rank, same fit).
    """
    frame = model_frame(tickets, [outcome, *numeric, *categorical], cluster)
    model = formula_model(RankedLogit, formula(outcome, list(numeric), list(categorical)), frame)
    return model.fit(disp=0, maxiter=200, **_cov(frame, cluster))


def coefficient(fit, term: str, name: str, label: str, method: str, alpha: float = 0.05, scale: float = 1.0) -> Estimate:
    """One coefficient of a fitted model as an :class:`Estimate`, optionally rescaled.

    ``scale`` multiplies value, SE and interval (e.g. to express a per-doubling slope as the
    difference between 1 and 24 hours). A fit with t inference (few clusters: t(G - 1)) gives an
    interval that is made again at another level with the same degrees of freedom, and its method
    text states the rule.
    """
    low, high = fit.conf_int(alpha=alpha).loc[term]
    return Estimate(
        name=name, label=label, value=float(fit.params[term]) * scale, se=float(fit.bse[term]) * abs(scale),
        ci_low=float(min(low * scale, high * scale)), ci_high=float(max(low * scale, high * scale)),
        p_value=float(fit.pvalues[term]), n=int(fit.nobs), method=method + few_clusters_note(fit), ci_level=1 - alpha,
        model=model_text(fit), interval=Interval(df=inference_df(fit)),
    )


def model_text(fit) -> str:
    """The formula a fitted model was built from, if it was built from one."""
    return str(getattr(fit.model, "formula", "") or "")


def average_marginal_effects(fit, labels: dict[str, tuple[str, str]], method: str, alpha: float = 0.05) -> list[Estimate]:
    """Average marginal effects of a logit, on the probability scale (0.01 = 1 percentage point).

    Parameters
    ----------
    fit : statsmodels discrete results
    labels : dict
        ``{term: (name, label)}`` for the terms to report.
    method : str
    alpha : float

    Returns
    -------
    list of Estimate
        One per term in ``labels``, by the delta method with the fit's covariance (the numbers of
        statsmodels' ``get_margeff(at="overall", dummy=True)``; see :mod:`study.stats.margins`).
        A fit with t inference (few clusters) gives t(G - 1) intervals and p-values, where
        statsmodels' margins keep the normal.
    """
    # As get_margeff(dummy=True): a 0/1 flag gets the change from 0 to 1, not a derivative.
    frame = logit_marginal_effects(fit, list(labels), alpha)
    df = inference_df(fit)
    out = []
    for term, (name, label) in labels.items():
        row = frame.loc[term]
        value, se = float(row["dy/dx"]), float(row["Std. Err."])
        low, high = (float(row.iloc[4]), float(row.iloc[5])) if df is None else wald_interval(value, se, alpha, df)
        out.append(
            Estimate(
                name=name, label=label, value=value, se=se, ci_low=low, ci_high=high,
                p_value=float(row["Pr(>|z|)"]) if df is None else wald_p_value(value, se, df),
                n=int(fit.nobs), method=method + few_clusters_note(fit), ci_level=1 - alpha, model=model_text(fit),
                interval=WALD if df is None else Interval(df=df),
            )
        )
    return out


def is_probability_change(estimate: Estimate) -> bool:
    """Whether an estimate is a change in a probability, as its label says ("Change in ... probability ...")."""
    words = estimate.label.lower()
    return words.startswith("change in ") and "probability" in words.split(" per ")[0].split(" for ")[0]


def comparison_table(estimates: list[Estimate], truth: dict[str, float] | None = None,
                     pp: int | None = None, digits: int = 3) -> pd.DataFrame:
    """Estimates side by side: value, interval, p-value, rows, and the true value where known.

    With ``truth``, a ``covers the truth`` column says ``yes`` or ``NO: misses`` for each estimate
    with a true value (empty for the others), so a miss is read off the table, not worked out.
    With ``pp`` (decimals), a change in a probability (:func:`is_probability_change`) is written in
    percentage points with its sign, as the findings write it; the other rows keep their own unit.
    ``digits`` are the decimals of the interval (the notebook shows the value with as many).
    """
    interval = f"{estimates[0].ci_level:.0%} CI" if estimates else "CI"
    table = pd.DataFrame(
        {
            "estimate": [e.label for e in estimates],
            "value": [e.value for e in estimates],
            interval: [f"{e.ci_low:.{digits}f} to {e.ci_high:.{digits}f}" for e in estimates],
            "p-value": [format_p(e.p_value) for e in estimates],
            "rows": [e.n for e in estimates],
        }
    )
    if truth:
        table["true value"] = [truth.get(e.name, np.nan) for e in estimates]
        table["covers the truth"] = [_covers(e, truth.get(e.name)) for e in estimates]
    if pp is not None:
        points = [is_probability_change(e) for e in estimates]
        columns = ["value", interval] + (["true value"] if truth else [])
        table[columns] = table[columns].astype(object)
        for i, (e, in_points) in enumerate(zip(estimates, points)):
            def say(v: float, signed: bool = True, unit: str = " pp", p: bool = in_points) -> str:
                if v is None or not np.isfinite(v):
                    return "–"
                return f"{100 * v:+.{pp}f}{unit}" if p else f"{v:{'+' if signed else ''}.{max(pp + 1, 3)}f}"
            table.at[i, "value"] = say(e.value)
            table.at[i, interval] = f"{say(e.ci_low, unit='')} to {say(e.ci_high, unit='')}"
            if truth:
                table.at[i, "true value"] = say(truth.get(e.name, np.nan))
        return numbers_as_text(table.set_index("estimate"), *columns, "p-value")
    return numbers_as_text(table.set_index("estimate"), interval, "p-value")


def _covers(estimate: Estimate, true_value: float | None) -> str:
    if true_value is None or not np.isfinite(true_value) or estimate.ci_low is None:
        return ""
    return "yes" if estimate.covers(true_value) else "NO: misses"


def term_label(name: str) -> str:
    """A model term in words: ``C(category)[T.billing]`` -> ``category: billing``, ``Q('a b')`` -> ``a b``."""
    if name.startswith("C(") and ")[T." in name:
        variable, level = name[2:].split(")[T.", 1)
        variable = column_of(variable) or variable
        return f"{variable.replace('_', ' ')}: {level.removesuffix(']')}"
    name = column_of(name) or name
    return {"Intercept": "intercept", SPEED: "log2 first response hours"}.get(name, name.replace("_", " "))


def coefficient_table(fit, alpha: float = 0.05) -> pd.DataFrame:
    """Every coefficient of a fit with SE, interval and p-value (a tidy ``summary()`` without dates).

    Categorical terms read ``variable: level`` and are measured against the variable's first level.
    """
    ci = fit.conf_int(alpha=alpha)
    table = pd.DataFrame(
        {
            "coefficient": fit.params.to_numpy(), "SE": fit.bse.to_numpy(),
            "CI low": ci.iloc[:, 0].to_numpy(), "CI high": ci.iloc[:, 1].to_numpy(),
            "p-value": [format_p(p) for p in fit.pvalues],
        },
        index=pd.Index([term_label(t) for t in fit.params.index], name="term"),
    )
    return numbers_as_text(table, "p-value")
