"""Regression models of satisfaction and repeat purchase, with tidy estimates.

Formulas are assembled by :func:`study.regression.fitting.formula`, which enters every column name
as a name to look up, never as code (patsy evaluates formula text as Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from study.core import degenerate
from study.core.accounting import RowLedger
from study.core.inference import WALD, critical_value, wald_p_value
from study.core.results import Estimate, Skipped
from study.data.dataset import TicketData
from study.regression import agent_terms
from study.regression.adjustment import Adjustment, adjustment, on_rows
from study.regression.fitting import (
    SPEED,
    _se_words,
    average_marginal_effects,
    coefficient,
    coefficient_table,
    fit_logit,
    fit_ols,
    model_text,
)
from study.regression.within import fit_within, total_speed_effect

HOURS_1_VS_24 = float(np.log2(24))  # doublings between a one-hour and a 24-hour first response


@dataclass
class SatisfactionDrivers:
    """Naive and adjusted regressions of CSAT on response speed and resolution.

    Attributes
    ----------
    naive : Estimate
        Slope of CSAT on log2 first-response hours with nothing held fixed.
    adjusted : list of Estimate
        Speed (direct: resolution held fixed, and total: not held fixed), resolution and reopening,
        with the known confounders and agents (where known) held fixed.
    controls : list of str
        Confounders adjusted for (as dummies).
    ledger : RowLedger
        Rows in, dropped by reason, used.
    fits : dict
        The statsmodels results: ``naive``, ``adjusted`` (agents absorbed: no intercept, no agent
        terms) and, for the total effect, ``path_<flag>`` (each flag on speed, all tickets).
    held : Adjustment, optional
        What the adjusted model holds fixed, on its rows.
    """

    naive: Estimate
    adjusted: list[Estimate]
    controls: list[str]
    ledger: RowLedger
    fits: dict
    held: Adjustment | None = None

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``."""
        return next(e for e in [self.naive, *self.adjusted] if e.name == name)

    @property
    def estimates(self) -> list[Estimate]:
        return [self.naive, *self.adjusted]

    @property
    def fixed_effects(self) -> list[str]:
        """Columns held fixed by fixed effects (``["agent_id"]`` where the data has agents)."""
        return list(self.held.fixed_effects) if self.held else []

    @property
    def notes(self) -> list[str]:
        """What the adjusted model holds fixed and what it does not, in words (:attr:`Adjustment.statement`)."""
        return self.held.statement if self.held else []


def csat_rows(data: TicketData, extra: list[str] = ()) -> tuple[pd.DataFrame, RowLedger, Adjustment]:
    """The rows every satisfaction model uses and what can be held fixed on them.

    Answered surveys with no model variable missing: speed, the flags, the confounders, the fixed
    effects (``agent_id`` where the data has agents) and ``extra``.

    Returns
    -------
    rows : pandas.DataFrame
    ledger : RowLedger
    held : Adjustment
        Narrowed to what varies on ``rows`` (:func:`study.regression.adjustment.on_rows`); without
        the agent fixed effects, and saying why, when the answers are too few for one per agent.
    """
    held = adjustment(data)
    ledger = RowLedger(data.tickets, data.set_aside)
    ledger.keep(data.tickets["csat_answered"], "no survey answer")
    rows = ledger.require([SPEED, *held.flags, *held.controls, *held.fixed_effects, *extra])
    held = on_rows(held, rows)
    if held.fixed_effects:
        # A fixed effect per agent needs more answers than agents: with too few, the models run without
        # it (and say so) rather than not at all.
        k = degenerate.parameters(rows, [SPEED, *held.flags], held.categorical)
        if degenerate.too_few_rows(rows, k) and not degenerate.too_few_rows(rows, k - held.levels["agent_id"] + 1):
            held = held.without_fixed_effects(f"{held.levels['agent_id']:,} agents for {len(rows):,} answered surveys, too few "
                                              "answers to hold each agent fixed")
    return rows, ledger, held


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
        Confounders present in the data. (The fixed effects, ``agent_id`` where the data has
        agents, are in :func:`csat_rows`' adjustment; their missing rows are left out here too.)
    """
    rows, ledger, held = csat_rows(data, extra)
    return rows, ledger, held.flags, held.controls


def csat_problem(rows: pd.DataFrame, flags: list[str], controls: list[str], cluster: str | None = "customer_id",
                 numeric: list[str] = (), categorical: list[str] = ()) -> str | None:
    """Why a linear model of CSAT on speed, ``flags`` and ``controls`` cannot be estimated on ``rows``, or ``None``.

    See :func:`study.core.degenerate.model`: no answered survey, CSAT with one value, speed with one value,
    fewer than two customers to cluster by, or fewer answers than coefficients.
    """
    return degenerate.model(rows, "csat", [SPEED, *flags, *numeric], [*controls, *categorical], cluster, "answered surveys")


def _path_words(flags: list[str]) -> str:
    words = {"resolved": "resolution", "reopened": "reopening"}
    return " and ".join(words[f] for f in flags)


def satisfaction_drivers(data: TicketData, alpha: float = 0.05, cluster: str = "customer_id") -> SatisfactionDrivers:
    """Does a faster first response go with higher CSAT once confounders are held fixed?

    Fits, on the tickets with a survey answer, CSAT on log2 first-response hours alone (naive) and
    with resolution, reopening and the known confounders (category, channel, loyalty tier, where
    present), holding agents fixed where the data has ``agent_id`` with two or more agents (a fixed
    effect per agent, absorbed: the estimates compare tickets handled by the same agent, so an
    agent's skill, which raises both resolution and CSAT, does not bias them). Both models use the
    same rows. Speed's effect is reported twice: direct (resolution and reopening held fixed) and
    total (not held fixed: its paths through them added back, see
    :func:`study.regression.within.total_speed_effect`). Standard errors are clustered by customer.

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
    rows, ledger, held = csat_rows(data)
    flags, controls, fixed = held.flags, held.controls, held.fixed_effects
    reason = csat_problem(rows, flags, controls, cluster, categorical=fixed)
    if reason:
        return Skipped("naive and adjusted models", reason)
    se = _se_words(cluster)
    naive_fit = fit_ols(rows, "csat", [SPEED], cluster=cluster)
    adjusted_fit, absorbed = fit_within(rows, "csat", [SPEED, *flags], controls, fixed, cluster=cluster)
    if SPEED in absorbed:
        return Skipped("naive and adjusted models", "first response time does not vary within agents: holding agents "
                                                    "fixed leaves no speed effect to estimate")
    flags = [f for f in flags if f not in absorbed]
    naive = coefficient(
        naive_fit, SPEED, "csat_per_doubling_naive",
        "CSAT points per doubling of first response time, naive (nothing held fixed)",
        f"OLS csat ~ log2 response hours; {se}; observational", alpha,
    )
    agents = f"; {held.fixed_effect_words}" if held.fixed_effect_words else ""
    adjusted_method = f"OLS csat ~ log2 response hours + {' + '.join(flags + controls)}{agents}; {se}; observational, adjusted"
    path = _path_words(flags)
    direct_label = f"direct: {path} held fixed" if flags else "adjusted"
    total, path_fits = _total(adjusted_fit, rows, data, held, flags, path, adjusted_method, alpha, cluster)
    adjusted = [
        coefficient(adjusted_fit, SPEED, "csat_per_doubling_adjusted",
                    f"CSAT points per doubling of first response time, {direct_label}", adjusted_method, alpha),
        total,
        coefficient(adjusted_fit, SPEED, "csat_24h_vs_1h_adjusted",
                    f"CSAT points from answering in 24 hours instead of 1 hour, {direct_label}", adjusted_method, alpha,
                    scale=HOURS_1_VS_24),
    ]
    labels = {"resolved": "CSAT points for a resolved case versus an unresolved one, adjusted",
              "reopened": "CSAT points for a reopened case, adjusted"}
    adjusted += [coefficient(adjusted_fit, flag, f"csat_{flag}_adjusted", labels[flag], adjusted_method, alpha) for flag in flags]
    fits = {"naive": naive_fit, "adjusted": adjusted_fit, **{f"path_{f}": fit for f, fit in path_fits.items()}}
    notes = [f"{c} held fixed by the agent fixed effects (constant within every agent): no coefficient of its own" for c in absorbed]
    held = replace(held, flags=flags, notes=[*held.notes, *notes])
    return SatisfactionDrivers(naive, adjusted, controls, ledger, fits, held)


def _total(direct_fit, rows, data, held, flags, path, method, alpha, cluster) -> tuple[Estimate, dict]:
    """Speed's total effect as an Estimate, and the fits of its paths (flag -> fit)."""
    value, se, parts = total_speed_effect(direct_fit, rows, data, replace(held, flags=flags), cluster)
    crit = critical_value(alpha)
    if flags:
        label = f"CSAT points per doubling of first response time, total: {path} not held fixed"
        words = (f"direct effect plus its paths through {path} (each flag's CSAT effect times its slope on speed, "
                 f"same adjustment, all {parts['rows']:,} tickets); delta method")
    else:
        label = "CSAT points per doubling of first response time, total: nothing on its path held fixed"
        words = "equal to the direct effect: no resolution or reopening to hold fixed"
    extra = {"direct": float(direct_fit.params[SPEED]), "through": parts["through"], "path_slopes": parts["slopes"],
             "path_rows": parts["rows"]}
    return Estimate(
        "csat_per_doubling_total_adjusted", label, value, se, value - crit * se, value + crit * se,
        wald_p_value(value, se), int(direct_fit.nobs), f"{method}; {words}", 1 - alpha, extra,
        model=model_text(direct_fit), interval=WALD,
    ), parts["fits"]


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
    held: Adjustment | None = None

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
        """Each logit skipped, with its reason, and whether the logits hold agents fixed (and why not)."""
        skipped = [f"logit {model}: skipped, {reason}" for model, reason in self.skipped_models.items()]
        agents = self.held.fixed_effect_notes if self.held else []
        return skipped + [n if n.startswith("agent held fixed") else f"repeat-purchase logits: {n}" for n in agents]

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
    associations, holding satisfaction fixed). Both hold agents fixed with a dummy per agent when
    the respondents have at most 200 agents (:data:`study.regression.agent_terms.MAX_AGENT_DUMMIES`)
    and enough purchases for them; otherwise the notes say agents are not held fixed, and why.
    Effects are average marginal effects in probability units; standard errors are clustered by customer.

    Parameters
    ----------
    data : TicketData
    alpha : float
    cluster : str

    Returns
    -------
    RepeatPurchase
    """
    return _logits(data, alpha, cluster)


def _logits(data: TicketData, alpha: float, cluster: str, without_agents: str | None = None) -> RepeatPurchase:
    """:func:`repeat_purchase`; with ``without_agents`` (the reason) agents are not entered, on the same rows."""
    tickets = data.tickets
    held = adjustment(data)
    controls, flags = held.controls, held.flags

    total_ledger = RowLedger(tickets, data.set_aside)
    total_rows = total_ledger.require(["repeat_purchase", SPEED, *flags, *controls, *held.fixed_effects])
    direct_ledger = RowLedger(tickets, data.set_aside)
    direct_ledger.keep(tickets["csat_answered"], "no survey answer")
    direct_rows = direct_ledger.require(["repeat_purchase", SPEED, *flags, *controls, *held.fixed_effects])
    # Both models use what varies among respondents, so their effects stay comparable; agents enter
    # both as dummies up to 200 agents, and only where the respondents' purchases support them.
    held = on_rows(held, direct_rows)
    controls, flags = held.controls, held.flags
    if not direct_rows.empty:
        bought = direct_rows["repeat_purchase"].astype(bool)
        held = agent_terms.for_dummies(held, direct_rows, int(min(bought.sum(), (~bought).sum())), [SPEED, "csat", *flags],
                                       "repeat_purchase")
    if without_agents and held.fixed_effects:
        held = held.without_fixed_effects(without_agents)
    categorical = held.categorical
    method = (f"logit, average marginal effect; {_se_words(cluster)}; observational, adjusted for {', '.join(controls) or 'nothing'}"
              f"; {agent_terms.dummy_words(held)}")
    skipped, fits, effects = {}, {}, {"total": [], "direct": []}
    total_problem = degenerate.first(
        degenerate.model(total_rows, "repeat_purchase", [SPEED, *flags], categorical, cluster, "tickets"),
        degenerate.events(total_rows, "repeat_purchase", degenerate.parameters(total_rows, [SPEED, *flags], categorical)),
    )
    direct_problem = degenerate.first(
        degenerate.model(direct_rows, "repeat_purchase", [SPEED, "csat", *flags], categorical, cluster, "answered surveys"),
        degenerate.constant(direct_rows, "csat", "its effect on buying again cannot be estimated"),
        degenerate.events(direct_rows, "repeat_purchase", degenerate.parameters(direct_rows, [SPEED, "csat", *flags], categorical),
                          "answered surveys"),
    )
    total_labels = {
        SPEED: ("repeat_per_doubling_total", "Change in repeat-purchase probability per doubling of first response time (total)"),
        **({"resolved": ("repeat_resolved_total", "Change in repeat-purchase probability for a resolved case (total)")}
           if "resolved" in flags else {}),
    }
    direct_labels = {
        SPEED: ("repeat_per_doubling_direct", "Change in repeat-purchase probability per doubling of first response time, CSAT held fixed"),
        **({"resolved": ("repeat_resolved_direct", "Change in repeat-purchase probability for a resolved case, CSAT held fixed")}
           if "resolved" in flags else {}),
        "csat": ("repeat_per_csat_point", "Change in repeat-purchase probability per CSAT point"),
    }
    for key, section, rows, regressors, problem, labels, words in (
        ("total", "without CSAT", total_rows, [SPEED, *flags], total_problem, total_labels, method),
        ("direct", "with CSAT", direct_rows, [SPEED, "csat", *flags], direct_problem, direct_labels, method + ", survey respondents"),
    ):
        fit = None if problem else fit_logit(rows, "repeat_purchase", regressors, categorical, cluster)
        problem = problem or degenerate.separated(fit)
        if problem and "agent_id" in categorical and not problem.startswith(("no ", "only")):
            # An agent whose customers all bought again (or none did) separates a logit with agent
            # dummies: both logits run again without agents, and the notes say why.
            return _logits(data, alpha, cluster, "a logit with a dummy per agent separates the data (some agent's "
                                                 "customers all bought again, or none did)")
        if problem:
            skipped[section] = problem
            continue
        fits[key] = fit
        effects[key] = average_marginal_effects(fit, labels, words, alpha)
    return RepeatPurchase(
        effects["total"], effects["direct"], controls, {"without CSAT": total_ledger, "with CSAT": direct_ledger}, fits, skipped,
        held,
    )
