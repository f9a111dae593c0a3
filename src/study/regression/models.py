"""Regression models of satisfaction and repeat purchase, with tidy estimates.

Formulas are assembled only from the contract's own column names (checked against an allow-list),
never from names found in a data file: patsy evaluates formula text as Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.results import Estimate, Skipped, format_p
from study.data import schema
from study.data.dataset import TicketData
from study.regression.adjustment import adjustment, on_rows
from study.stats.design import formula_model
from study.stats.margins import logit_marginal_effects
from study.stats.ols import CholeskyOLS

DERIVED = {"response_log2_hours", "response_hours", "response_band", "csat_top2", "csat_answered"}
SPEED = "response_log2_hours"
HOURS_1_VS_24 = float(np.log2(24))  # doublings between a one-hour and a 24-hour first response


def _safe(name: str) -> str:
    if name not in schema.BY_NAME and name not in DERIVED:
        raise ValueError(f"'{name}' is not a contract or derived column; refusing to put it in a formula")
    return name


def formula(
    outcome: str, numeric: list[str], categorical: list[str] = (), splines: dict[str, int] | None = None,
    interactions: list[tuple[str, str]] = (),
) -> str:
    """Model formula from contract column names; categorical terms enter as dummies.

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
    terms = [_safe(n) for n in numeric] + [f"C({_safe(c)})" for c in categorical]
    # Centred so the spline does not duplicate the intercept.
    terms += [f"cr({_safe(n)}, df={int(df)}, constraints='center')" for n, df in (splines or {}).items()]
    terms += [f"{_safe(a)}:{_safe(b)}" for a, b in interactions]
    return f"{_safe(outcome)} ~ " + (" + ".join(terms) if terms else "1")


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
        elif pd.api.types.is_string_dtype(values):
            # Text as a Categorical of its sorted values: the levels, reference and dummies patsy
            # would derive from plain strings, without patsy testing every value for missingness.
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


def _cov(frame: pd.DataFrame, cluster: str | None) -> dict:
    if cluster is None:
        return {"cov_type": "HC1"}
    return {"cov_type": "cluster", "cov_kwds": {"groups": frame["_cluster"].to_numpy()}}


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
        gives HC1.
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
    """Logistic regression with robust standard errors (see :func:`fit_ols` for the arguments)."""
    frame = model_frame(tickets, [outcome, *numeric, *categorical], cluster)
    model = formula_model(sm.Logit, formula(outcome, list(numeric), list(categorical)), frame)
    return model.fit(disp=0, maxiter=200, **_cov(frame, cluster))


def coefficient(fit, term: str, name: str, label: str, method: str, alpha: float = 0.05, scale: float = 1.0) -> Estimate:
    """One coefficient of a fitted model as an :class:`Estimate`, optionally rescaled.

    ``scale`` multiplies value, SE and interval (e.g. to express a per-doubling slope as the
    effect of going from 1 to 24 hours).
    """
    low, high = fit.conf_int(alpha=alpha).loc[term]
    return Estimate(
        name=name, label=label, value=float(fit.params[term]) * scale, se=float(fit.bse[term]) * abs(scale),
        ci_low=float(min(low * scale, high * scale)), ci_high=float(max(low * scale, high * scale)),
        p_value=float(fit.pvalues[term]), n=int(fit.nobs), method=method, ci_level=1 - alpha,
        model=model_text(fit),
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
    """
    # As get_margeff(dummy=True): a 0/1 flag gets the change from 0 to 1, not a derivative.
    frame = logit_marginal_effects(fit, list(labels), alpha)
    out = []
    for term, (name, label) in labels.items():
        row = frame.loc[term]
        out.append(
            Estimate(
                name=name, label=label, value=float(row["dy/dx"]), se=float(row["Std. Err."]),
                ci_low=float(row.iloc[4]), ci_high=float(row.iloc[5]), p_value=float(row["Pr(>|z|)"]),
                n=int(fit.nobs), method=method, ci_level=1 - alpha, model=model_text(fit),
            )
        )
    return out


@dataclass
class SatisfactionDrivers:
    """Naive and adjusted regressions of CSAT on response speed and resolution.

    Attributes
    ----------
    naive : Estimate
        Slope of CSAT on log2 first-response hours with nothing held fixed.
    adjusted : list of Estimate
        Speed, resolution (and reopen where present) with the known confounders held fixed.
    controls : list of str
        Confounders adjusted for.
    ledger : RowLedger
        Rows in, dropped by reason, used.
    fits : dict
        The statsmodels results, ``{"naive": ..., "adjusted": ...}``.
    """

    naive: Estimate
    adjusted: list[Estimate]
    controls: list[str]
    ledger: RowLedger
    fits: dict

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``."""
        return next(e for e in [self.naive, *self.adjusted] if e.name == name)

    @property
    def estimates(self) -> list[Estimate]:
        return [self.naive, *self.adjusted]


def csat_sample(data: TicketData, extra: list[str] = ()) -> tuple[pd.DataFrame, RowLedger, list[str], list[str]]:
    """The rows every satisfaction model uses: answered surveys with no model variable missing.

    Parameters
    ----------
    data : TicketData
    extra : list of str
        Further columns the caller's model needs (their missing rows are counted too).

    Returns
    -------
    rows : pandas.DataFrame
    ledger : RowLedger
    flags : list of str
        ``resolved`` and ``reopened``, each where present with two values (see
        :func:`study.regression.adjustment.adjustment`).
    controls : list of str
        Confounders present in the data.
    """
    held = adjustment(data)
    ledger = RowLedger(data.tickets, data.set_aside)
    ledger.keep(data.tickets["csat_answered"], "no survey answer")
    rows = ledger.require([SPEED, *held.flags, *held.controls, *extra])
    held = on_rows(held, rows)
    return rows, ledger, held.flags, held.controls


def csat_problem(rows: pd.DataFrame, flags: list[str], controls: list[str], cluster: str | None = "customer_id",
                 numeric: list[str] = (), categorical: list[str] = ()) -> str | None:
    """Why a linear model of CSAT on speed, ``flags`` and ``controls`` cannot be estimated on ``rows``, or ``None``.

    See :func:`study.core.degenerate.model`: no answered survey, CSAT with one value, speed with one value,
    fewer than two customers to cluster by, or fewer answers than coefficients.
    """
    return degenerate.model(rows, "csat", [SPEED, *flags, *numeric], [*controls, *categorical], cluster, "answered surveys")


def satisfaction_drivers(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> SatisfactionDrivers:
    """Does a faster first response raise CSAT once confounders are held fixed?

    Fits, on the tickets with a survey answer, CSAT on log2 first-response hours alone (naive) and
    with resolution, reopening and the known confounders (category, channel, loyalty tier, where
    present). Both models use the same rows. Standard errors are clustered by customer.

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    cluster : str
        Cluster column for the standard errors.

    Returns
    -------
    SatisfactionDrivers or Skipped
        Skipped, with the reason, when the rows cannot support the models (:func:`csat_problem`).
    """
    rows, ledger, flags, controls = csat_sample(data)
    reason = csat_problem(rows, flags, controls, cluster)
    if reason:
        return Skipped("naive and adjusted models", reason)
    se = _se_words(cluster)
    naive_fit = fit_ols(rows, "csat", [SPEED], cluster=cluster)
    adjusted_fit = fit_ols(rows, "csat", [SPEED, *flags], controls, cluster=cluster)
    naive = coefficient(
        naive_fit, SPEED, "csat_per_doubling_naive",
        "CSAT points per doubling of first response time, naive (nothing held fixed)",
        f"OLS csat ~ log2 response hours; {se}; observational", alpha,
    )
    adjusted_method = (
        f"OLS csat ~ log2 response hours + {' + '.join(flags + controls)}; {se}; observational, adjusted"
    )
    adjusted = [
        coefficient(
            adjusted_fit, SPEED, "csat_per_doubling_adjusted",
            "CSAT points per doubling of first response time, adjusted for confounders", adjusted_method, alpha,
        ),
        coefficient(
            adjusted_fit, SPEED, "csat_24h_vs_1h_adjusted",
            "CSAT points from answering in 24 hours instead of 1 hour, adjusted", adjusted_method, alpha,
            scale=HOURS_1_VS_24,
        ),
    ]
    labels = {"resolved": "CSAT points for a resolved case versus an unresolved one, adjusted",
              "reopened": "CSAT points for a reopened case, adjusted"}
    adjusted += [coefficient(adjusted_fit, flag, f"csat_{flag}_adjusted", labels[flag], adjusted_method, alpha) for flag in flags]
    return SatisfactionDrivers(naive, adjusted, controls, ledger, {"naive": naive_fit, "adjusted": adjusted_fit})


def comparison_table(estimates: list[Estimate], truth: dict[str, float] | None = None) -> pd.DataFrame:
    """Estimates side by side: value, interval, p-value, rows, and the true value where known."""
    table = pd.DataFrame(
        {
            "estimate": [e.label for e in estimates],
            "value": [e.value for e in estimates],
            f"{estimates[0].ci_level:.0%} CI" if estimates else "CI": [f"{e.ci_low:.3f} to {e.ci_high:.3f}" for e in estimates],
            "p-value": [format_p(e.p_value) for e in estimates],
            "rows": [e.n for e in estimates],
        }
    )
    if truth:
        table["true value"] = [truth.get(e.name, np.nan) for e in estimates]
    return table.set_index("estimate")


def term_label(term: str) -> str:
    """A model term in words: ``C(category)[T.billing]`` -> ``category: billing``."""
    if term.startswith("C(") and ")[T." in term:
        variable, level = term[2:].split(")[T.", 1)
        return f"{variable.replace('_', ' ')}: {level.rstrip(']')}"
    return {"Intercept": "intercept", SPEED: "log2 first response hours"}.get(term, term.replace("_", " "))


def coefficient_table(fit, alpha: float = 0.05) -> pd.DataFrame:
    """Every coefficient of a fit with SE, interval and p-value (a tidy ``summary()`` without dates).

    Categorical terms read ``variable: level`` and are measured against the variable's first level.
    """
    ci = fit.conf_int(alpha=alpha)
    return pd.DataFrame(
        {
            "coefficient": fit.params.to_numpy(), "SE": fit.bse.to_numpy(),
            "CI low": ci.iloc[:, 0].to_numpy(), "CI high": ci.iloc[:, 1].to_numpy(),
            "p-value": [format_p(p) for p in fit.pvalues],
        },
        index=pd.Index([term_label(t) for t in fit.params.index], name="term"),
    )


@dataclass
class RepeatPurchase:
    """Logit models of repeat purchase: total effects (all tickets) and direct effects (given CSAT).

    Attributes
    ----------
    total : list of Estimate
        Average marginal effects of speed and resolution without CSAT in the model.
    direct : list of Estimate
        Average marginal effects of speed, resolution and CSAT among survey respondents.
    controls : list of str
    ledgers : dict of RowLedger
        ``{"without CSAT": ..., "with CSAT": ...}`` (the total and the direct model).
    fits : dict
    """

    total: list[Estimate]
    direct: list[Estimate]
    controls: list[str]
    ledgers: dict
    fits: dict
    skipped_models: dict = field(default_factory=dict)

    def get(self, name: str) -> Estimate | None:
        """The estimate called ``name`` (``None`` when its model was skipped)."""
        return next((e for e in [*self.total, *self.direct] if e.name == name), None)

    @property
    def estimates(self) -> list[Estimate]:
        return [*self.total, *self.direct]

    @property
    def skipped(self) -> str:
        """Why neither logit could be fitted (``""`` when at least one was)."""
        if self.fits:
            return ""
        return "; ".join(f"logit {model}: {reason}" for model, reason in self.skipped_models.items())

    @property
    def complete(self) -> bool:
        """Whether both logits were fitted."""
        return {"total", "direct"} <= set(self.fits)

    @property
    def notes(self) -> list[str]:
        """Each logit skipped, with its reason."""
        return [f"logit {model}: skipped, {reason}" for model, reason in self.skipped_models.items()]

    def coefficients(self, model: str = "direct", alpha: float = 0.05) -> pd.DataFrame | Skipped:
        """Every coefficient of the ``"direct"`` (with CSAT) or ``"total"`` logit, or why it was skipped."""
        words = {"direct": "with CSAT", "total": "without CSAT"}[model]
        if model not in self.fits:
            # Section names are shown capitalized (study.report.display.show), so they hold no acronym.
            section = {"direct": "the logit with satisfaction", "total": "the logit without satisfaction"}[model]
            return Skipped(section, self.skipped_models.get(words, "not fitted"))
        return coefficient_table(self.fits[model], alpha=alpha)


def repeat_purchase(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> RepeatPurchase:
    """How do speed, resolution and satisfaction relate to buying again?

    Two logits of ``repeat_purchase`` with the known confounders: one on all tickets without CSAT
    (total associations of speed and resolution), one among survey respondents with CSAT (direct
    associations, holding satisfaction fixed). Effects are average marginal effects in probability
    units; standard errors are clustered by customer.

    Parameters
    ----------
    data : TicketData
    alpha : float
    cluster : str

    Returns
    -------
    RepeatPurchase
    """
    tickets = data.tickets
    held = adjustment(data)
    controls, flags = held.controls, held.flags

    total_ledger = RowLedger(tickets, data.set_aside)
    total_rows = total_ledger.require(["repeat_purchase", SPEED, *flags, *controls])
    direct_ledger = RowLedger(tickets, data.set_aside)
    direct_ledger.keep(tickets["csat_answered"], "no survey answer")
    direct_rows = direct_ledger.require(["repeat_purchase", SPEED, *flags, *controls])
    # Both models use what varies among respondents, so their effects stay comparable.
    held = on_rows(held, direct_rows)
    controls, flags = held.controls, held.flags
    method = f"logit, average marginal effect; {_se_words(cluster)}; observational, adjusted for {', '.join(controls) or 'nothing'}"
    skipped, fits, total, direct = {}, {}, [], []
    total_problem = degenerate.first(
        degenerate.model(total_rows, "repeat_purchase", [SPEED, *flags], controls, cluster, "tickets"),
        degenerate.events(total_rows, "repeat_purchase", degenerate.parameters(total_rows, [SPEED, *flags], controls)),
    )
    direct_problem = degenerate.first(
        degenerate.model(direct_rows, "repeat_purchase", [SPEED, "csat", *flags], controls, cluster, "answered surveys"),
        degenerate.constant(direct_rows, "csat", "its effect on buying again cannot be estimated"),
        degenerate.events(direct_rows, "repeat_purchase", degenerate.parameters(direct_rows, [SPEED, "csat", *flags], controls),
                          "answered surveys"),
    )
    total_fit = None if total_problem else fit_logit(total_rows, "repeat_purchase", [SPEED, *flags], controls, cluster)
    total_problem = total_problem or degenerate.separated(total_fit)
    if total_problem:
        skipped["without CSAT"] = total_problem
    else:
        fits["total"] = total_fit
        total = average_marginal_effects(
        total_fit,
            {
                SPEED: ("repeat_per_doubling_total", "Change in repeat-purchase probability per doubling of first response time (total)"),
                **({"resolved": ("repeat_resolved_total", "Change in repeat-purchase probability for a resolved case (total)")}
                   if "resolved" in flags else {}),
            },
            method, alpha,
        )

    direct_fit = None if direct_problem else fit_logit(direct_rows, "repeat_purchase", [SPEED, "csat", *flags], controls, cluster)
    direct_problem = direct_problem or degenerate.separated(direct_fit)
    if direct_problem:
        skipped["with CSAT"] = direct_problem
    else:
        fits["direct"] = direct_fit
        direct = average_marginal_effects(
            direct_fit,
            {
                SPEED: ("repeat_per_doubling_direct", "Change in repeat-purchase probability per doubling of first response time, CSAT held fixed"),
                **({"resolved": ("repeat_resolved_direct", "Change in repeat-purchase probability for a resolved case, CSAT held fixed")}
                   if "resolved" in flags else {}),
                "csat": ("repeat_per_csat_point", "Change in repeat-purchase probability per CSAT point"),
            },
            method + ", survey respondents", alpha,
        )
    return RepeatPurchase(
        total, direct, controls, {"without CSAT": total_ledger, "with CSAT": direct_ledger}, fits, skipped,
    )
