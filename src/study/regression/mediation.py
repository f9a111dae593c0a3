"""Does slow service cost repeat purchases through satisfaction? Speed -> CSAT -> repeat purchase.

Two linear models among survey respondents (the only tickets whose CSAT is known), both holding
resolution, reopening, the known confounders and, where the data has two or more agents, agents
fixed (a fixed effect per agent, absorbed: the coefficients are those of the models with
``C(agent_id)`` dummies; agent skill raises resolution and CSAT and may speed replies, so without
it path *a* would be confounded):

- mediator model: ``csat ~ log2 response hours + resolved + reopened + controls`` (path *a*);
- outcome model: ``repeat_purchase ~ log2 response hours + csat + resolved + reopened + controls``
  (path *b* for CSAT, direct effect *c'* for speed).

The outcome model is a linear probability model, not a logit: the simulator's repeat-purchase
probability is exactly linear in CSAT and log2 hours, so the coefficients are the structural
effects, and with two linear models the indirect effect is the product ``a * b`` and the total
effect ``a * b + c'`` equals the speed coefficient of the same regression without CSAT (an
identity of least squares on the same rows). The proportion mediated is ``a * b / (a * b + c')``.

Uncertainty: a cluster bootstrap that draws customers with replacement (each bringing all of its
tickets) and refits both models on the same draw, so it respects clustering by customer and the
covariance between the two models' coefficients, and the intervals of the product and the ratio
need no normal approximation. Each replicate works on per-customer sums of cross-products, so it
costs a matrix product rather than a pass over the tickets. With agents held fixed the agent means
are estimated again on every draw, exactly (per-customer, per-agent sums kept sparse; see
:func:`study.stats.bootstrap_ols.cluster_bootstrap_mediation`), so the bootstrap needs no
assumption that they are known; the width of the sums does not grow with the agents.

Why not ``statsmodels.stats.mediation.Mediation``: its parametric (quasi-Bayesian) method draws
the two models' coefficients independently (ignoring their covariance) and, in every draw,
re-simulates each respondent's CSAT, so its estimate is a Monte Carlo mean and its interval also
holds simulation noise (about 30% wider than the bootstrap's on 50,000 simulated tickets); its
bootstrap resamples single rows, independently for the two models, and would pair resampled rows
with the original cluster labels. Its quasi-Bayesian answer is used in the tests as an outside
check. 2,000 replicates take about a second on 50,000 tickets.

The total that the share is a share of is this LPM total among respondents (``total``), not the
logit total over every ticket: a sentence quotes indirect, direct and total from the same rows.
When the total's interval includes zero, or the share's bootstrap interval runs beyond -100% to
200%, the share is not estimable: no share estimate is made and ``share_not_estimable`` says why.

Causal reading needs the assumptions in ``assumptions`` (sequential ignorability, no speed x CSAT
interaction, CSAT measured without error, respondents only); the interaction is tested
(``interaction``) and the sensitivity of the indirect effect to a hidden common cause of CSAT and
buying again is Imai, Keele & Yamamoto's ``rho`` (:mod:`study.regression.mediation_sensitivity`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from study.core import degenerate, words
from study.core.accounting import RowLedger
from study.core.inference import Interval, percentile_interval, wald_p_value
from study.core.results import Estimate, format_p
from study.data.dataset import TicketData
from study.regression import agent_terms, mediation_sensitivity
from study.regression.adjustment import adjustment, on_rows
from study.regression.fitting import (
    SPEED,
    coefficient,
    fit_ols,
    formula,
    model_frame,
    model_text,
)
from study.stats.absorb import absorbed_model, fit_absorbed
from study.stats.bootstrap_ols import cluster_bootstrap_mediation, cluster_bootstrap_ols  # noqa: F401 (re-exported)
from study.stats.design import design_matrix

NAMES = {
    "indirect": "repeat_per_doubling_indirect_via_csat",
    "direct": "repeat_per_doubling_direct_lpm",
    "total": "repeat_per_doubling_total_lpm",
    "proportion": "share_of_speed_effect_via_csat",
    "a": "csat_per_doubling_mediator_model",
    "b": "repeat_per_csat_point_lpm",
    "interaction": "repeat_speed_x_csat_interaction_lpm",
    "rho": "mediation_rho_at_zero_indirect",
}
SHARE_RANGE = (-1.0, 2.0)  # a share whose interval runs beyond -100% .. 200% says nothing
INTERACTION = f"{SPEED}:csat"


@dataclass
class SpeedMediation:
    """Speed's effect on repeat purchase split into the part through CSAT and the rest.

    Attributes
    ----------
    effects : list of Estimate
        Indirect (``a * b``), direct (``c'``) and total effect per doubling of first response
        time, in probability (0.01 = 1 percentage point), and the proportion mediated; intervals
        from the cluster bootstrap (percentile), SE the replicates' standard deviation.
    paths : list of Estimate
        Path *a* (CSAT points per doubling) and path *b* (repeat-purchase probability per CSAT
        point), with the models' own cluster-robust (CR1) Wald intervals.
    replicates : pandas.DataFrame
        One row per bootstrap replicate: ``a``, ``b``, ``direct``, ``indirect``, ``total``,
        ``proportion`` and ``rho_at_zero``.
    controls : list of str
        Confounders held fixed.
    flags : list of str
        Case outcomes held fixed (``resolved``, ``reopened``).
    ledger : RowLedger
    fits : dict
        ``{"mediator": ..., "outcome": ..., "total": ..., "interaction": ...}`` statsmodels results
        (OLS, CR1 by customer); ``total`` is the outcome model without CSAT, ``interaction`` the
        outcome model with a speed x CSAT term.
    clusters : int
        Customers resampled.
    notes : list of str
        Variables the models could not hold fixed (and why), and caveats, in words.
    skipped : str or None
        Why nothing was estimated, when the data does not allow it.
    share_not_estimable : str or None
        Why the share of the total that runs through CSAT is not estimated (then ``effects`` has
        no share): the total's interval includes zero, or the share's runs beyond -100% to 200%.
    interaction : Estimate or None
        Speed x CSAT coefficient of the outcome model with the interaction added (CR1 interval).
    sensitivity : MediationSensitivity or None
        ``ACME(rho)`` and the ``rho`` at which it is zero (Imai, Keele & Yamamoto 2010).
    robustness : list of Estimate
        ``rho`` at which the indirect effect would vanish, with its bootstrap interval.
    assumptions : list of str
        What the causal reading of the split needs, in words.
    """

    effects: list[Estimate]
    paths: list[Estimate]
    replicates: pd.DataFrame
    controls: list[str]
    flags: list[str]
    ledger: RowLedger
    fits: dict
    clusters: int
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    share_not_estimable: str | None = None
    interaction: Estimate | None = None
    sensitivity: mediation_sensitivity.MediationSensitivity | None = None
    robustness: list[Estimate] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    @property
    def estimates(self) -> list[Estimate]:
        return [*self.effects, *self.paths, *([self.interaction] if self.interaction else []), *self.robustness]

    def get(self, name: str) -> Estimate:
        """The estimate called ``name``; a KeyError with the reason when it was not estimated."""
        found = next((e for e in self.estimates if e.name == name), None)
        if found is None:
            why = self.share_not_estimable if name == NAMES["proportion"] and self.share_not_estimable else "not estimated"
            raise KeyError(f"{name}: {why}")
        return found

    @property
    def total(self) -> Estimate:
        """The total the split is of: the LPM total among respondents (direct + indirect)."""
        return self.get(NAMES["total"])

    @property
    def share(self) -> Estimate | None:
        """The share of :attr:`total` that runs through CSAT, or ``None`` when not estimable."""
        return next((e for e in self.effects if e.name == NAMES["proportion"]), None)

    def table(self) -> pd.DataFrame:
        """The decomposition as a reader wants it: effect, value in percentage points, interval."""
        rows = []
        for estimate in self.effects:
            unit = "% of the total" if estimate.name == NAMES["proportion"] else "percentage points per doubling"
            rows.append({
                "effect": estimate.label, "value": 100 * estimate.value, "CI low": 100 * estimate.ci_low,
                "CI high": 100 * estimate.ci_high, "p-value": format_p(estimate.p_value), "unit": unit,
            })
        return pd.DataFrame(rows).set_index("effect")


def expected_values(truth: dict | None) -> dict[str, float]:
    """The true value of each estimate of :func:`speed_through_satisfaction`, for simulated data.

    The ``rho`` at which the indirect effect would vanish has none: it is a property of the data,
    not of the process (the process's own error correlation is zero).
    """
    if not truth:
        return {}
    indirect = truth["repeat_indirect_per_doubling_response_time"]
    total = truth["repeat_total_per_doubling_response_time"]
    return {
        NAMES["indirect"]: indirect,
        NAMES["direct"]: truth["repeat_direct_per_doubling_response_time"],
        NAMES["total"]: total,
        NAMES["proportion"]: indirect / total,
        NAMES["a"]: truth["csat_per_doubling_response_time"],
        NAMES["b"]: truth["repeat_per_csat_point"],
        NAMES["interaction"]: 0.0,  # the simulator's repeat-purchase probability is additive in CSAT and speed
    }


def _bootstrap_estimate(name: str, label: str, value: float, draws: np.ndarray, n: int, method: str,
                        alpha: float, model: str) -> Estimate:
    draws = draws[np.isfinite(draws)]
    se = float(np.std(draws, ddof=1))
    low, high = percentile_interval(draws, alpha)
    p_value = wald_p_value(value, se) if se > 0 else None
    return Estimate(
        name=name, label=label, value=float(value), se=se, ci_low=float(low), ci_high=float(high),
        p_value=p_value, n=n, method=method, ci_level=1 - alpha, extra={"replicates": int(draws.size)}, model=model,
        interval=Interval("percentile", draws=draws),
    )


def _fit(rows: pd.DataFrame, outcome: str, numeric: list[str], controls: list[str], fixed: list[str], cluster: str,
         interactions: list[tuple[str, str]] = ()):
    """OLS clustered by ``cluster`` (CR1), agents absorbed when ``fixed`` names them; and the terms they absorb.

    With agents the fit is that of statsmodels' OLS with ``C(agent_id)`` dummies (coefficients, CR1
    standard errors; :mod:`study.stats.absorb`), on columns demeaned within agents: no intercept.
    """
    if not fixed:
        return fit_ols(rows, outcome, numeric, controls, cluster=cluster, interactions=interactions), []
    frame = model_frame(rows, [outcome, *numeric, *controls], None)
    design = design_matrix(frame, formula(outcome, numeric, controls, interactions=interactions).split("~", 1)[1])
    text = formula(outcome, numeric, [*controls, *fixed], interactions=interactions)
    model, absorbed = absorbed_model(frame[outcome], design, rows[fixed[0]].to_numpy(), formula=text)
    groups = pd.factorize(rows[cluster])[0].astype(float)  # float codes: see study.regression.fitting.model_frame
    return fit_absorbed(model, "cluster", {"groups": groups}), absorbed


def _r_squared(fit, outcome: pd.Series) -> float:
    """R-squared of a fit against the outcome's total variation (a model with agent dummies reports this one)."""
    values = outcome.to_numpy(dtype=float)
    resid = np.asarray(fit.resid)
    return float(1 - resid @ resid / np.sum((values - values.mean()) ** 2))


def _skipped(reason: str, ledger: RowLedger, flags, controls, notes) -> SpeedMediation:
    return SpeedMediation([], [], pd.DataFrame(), controls, flags, ledger, {}, 0, notes, reason)


def speed_through_satisfaction(
    data: TicketData, alpha: float = 0.05, replicates: int = 2000, seed: int = 2026, cluster: str = "customer_id"
) -> SpeedMediation:
    """How much of the effect of response speed on repeat purchase runs through CSAT?

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    replicates : int
        Bootstrap replicates (2,000 keep the Monte Carlo error of a 95% percentile bound small
        against the interval's width).
    seed : int
        Seed of the bootstrap; the same data, seed and ``replicates`` give the same intervals.
    cluster : str
        Column whose values are resampled together (and define the CR1 clusters of the paths).

    Returns
    -------
    SpeedMediation
        Empty estimates and ``skipped`` set when fewer respondents than model terms remain or
        CSAT or repeat purchase does not vary among them.
    """
    held = adjustment(data)
    flags, controls, notes = held.flags, held.controls, list(held.notes)
    ledger = RowLedger(data.tickets, data.set_aside)
    ledger.keep(data.tickets["csat_answered"], "no survey answer")
    rows = ledger.require(["repeat_purchase", SPEED, *flags, *controls, *held.fixed_effects])
    if rows.empty:
        return _skipped("no survey answer with every model variable", ledger, flags, controls, notes)
    reason = degenerate.first(
        degenerate.constant(rows, "csat"), degenerate.bought_again(rows), degenerate.no_variation(rows, SPEED),
        degenerate.too_few_clusters(rows, cluster, purpose="the customer bootstrap and clustered standard errors"),
    )
    if reason:
        return _skipped(reason, ledger, flags, controls, notes)
    held = agent_terms.for_absorbing(on_rows(held, rows), rows, [SPEED, "csat", *held.flags])
    flags, controls, fixed = held.flags, held.controls, held.fixed_effects
    notes = [*held.notes, *held.fixed_effect_notes]
    terms = 3 + len(flags) + sum(rows[c].nunique() - 1 for c in held.categorical)
    if len(rows) <= terms:
        return _skipped(f"{len(rows)} respondents for {terms} model terms", ledger, flags, controls, notes)

    mediator, absorbed = _fit(rows, "csat", [SPEED, *flags], controls, fixed, cluster)
    outcome, outcome_absorbed = _fit(rows, "repeat_purchase", [SPEED, "csat", *flags], controls, fixed, cluster)
    if SPEED in absorbed or "csat" in outcome_absorbed:
        return _skipped("speed or CSAT does not vary within agents: holding agents fixed leaves no path to estimate",
                        ledger, flags, controls, notes)
    notes += [f"{c} held fixed by the agent fixed effects (constant within every agent): no coefficient of its own" for c in absorbed]
    total = _fit(rows, "repeat_purchase", [SPEED, *flags], controls, fixed, cluster)[0]

    codes, uniques = pd.factorize(rows[cluster], sort=True)
    # The outcome model is the mediator model's design plus CSAT, and the total model has the mediator
    # model's design: the moments of [design, csat, repeat] give every path on each draw.
    # With agents held fixed the models' columns are already demeaned within agents; the bootstrap
    # takes each draw's agent means out again (exactly, see cluster_bootstrap_mediation).
    agents = pd.factorize(rows[fixed[0]])[0] if fixed else None
    draws = cluster_bootstrap_mediation(mediator.model.exog, mediator.model.endog, total.model.endog,
                                        mediator.model.exog_names.index(SPEED), codes, replicates, seed, groups=agents)
    replicate_table = pd.DataFrame({key: draws[key] for key in ("a", "b", "direct")})
    replicate_table["indirect"] = replicate_table["a"] * replicate_table["b"]
    replicate_table["total"] = replicate_table["indirect"] + replicate_table["direct"]
    replicate_table["proportion"] = replicate_table["indirect"] / replicate_table["total"]
    replicate_table["rho_at_zero"] = draws["rho"]

    a, b = float(mediator.params[SPEED]), float(outcome.params["csat"])
    direct = float(outcome.params[SPEED])
    point = {"indirect": a * b, "direct": direct, "total": a * b + direct, "proportion": a * b / (a * b + direct)}
    held_fixed = "".join(f" + {term}" for term in [*flags, *controls])
    if fixed:
        held_fixed += f"; {held.fixed_effect_words}"
    level = f"{1 - alpha:.0%}"
    method = (
        f"product of coefficients of two linear models among survey respondents (csat ~ log2 response hours"
        f"{held_fixed}; linear probability model repeat_purchase ~ log2 response hours + csat{held_fixed}); "
        f"{level} percentile cluster bootstrap resampling {cluster}, {replicates} replicates, seed {seed}"
        f"{', agent means estimated again on each draw' if fixed else ''}, "
        f"p-value from the bootstrap SE (normal); observational, adjusted"
    )
    model = f"{model_text(mediator)}; {model_text(outcome)}"
    se_words = f"SE clustered by {cluster} (CR1); observational, adjusted; survey respondents"
    labels = {
        "indirect": "Change in repeat-purchase probability per doubling of first response time that runs through CSAT (respondents)",
        "direct": "Change in repeat-purchase probability per doubling of first response time, CSAT held fixed (direct; respondents)",
        "total": ("Change in repeat-purchase probability per doubling of first response time among survey respondents "
                  "(linear probability model; total = direct + indirect)"),
        "proportion": "Share of the respondents' total (linear probability model) that runs through CSAT",
    }
    effects = [
        _bootstrap_estimate(NAMES[key], labels[key], point[key], replicate_table[key].to_numpy(), len(rows),
                            method, alpha, model)
        for key in ("indirect", "direct", "total", "proportion")
    ]
    # A ratio's p-value against zero says the same as the indirect effect's; it has none of its own.
    effects[-1] = replace(effects[-1], p_value=None)
    not_estimable = share_reason(effects[2], effects[-1])
    if not_estimable:
        effects = effects[:-1]
        notes.append(f"share of the total through CSAT not estimable: {not_estimable}")

    paths = [
        coefficient(mediator, SPEED, NAMES["a"], "CSAT points per doubling of first response time (mediator model)",
                    f"OLS csat ~ log2 response hours{held_fixed}; {se_words}", alpha),
        coefficient(outcome, "csat", NAMES["b"], "Change in repeat-purchase probability per CSAT point (linear probability model)",
                    f"OLS repeat_purchase ~ log2 response hours + csat{held_fixed}; {se_words}", alpha),
    ]
    with_interaction = _fit(rows, "repeat_purchase", [SPEED, "csat", *flags], controls, fixed, cluster,
                            interactions=[(SPEED, "csat")])[0]
    interaction = coefficient(
        with_interaction, INTERACTION, NAMES["interaction"],
        "Speed x CSAT interaction in the linear probability model of repeat purchase (change in the per-point effect of CSAT per doubling)",
        f"OLS repeat_purchase ~ log2 response hours + csat + log2 response hours:csat{held_fixed}; {se_words}", alpha)
    sensitivity = mediation_sensitivity.from_fits(mediator, total, outcome, r2=(_r_squared(mediator, rows["csat"]),
                                                                               _r_squared(outcome, rows["repeat_purchase"])))
    rho = replace(_bootstrap_estimate(
        NAMES["rho"], "Correlation of the CSAT and repeat-purchase models' errors at which the indirect effect would be zero",
        sensitivity.rho_at_zero, draws["rho"], len(rows),
        "Imai, Keele & Yamamoto (2010) sensitivity parameter for two linear models: correlation of the residuals of the "
        f"mediator model and of the model without CSAT; {level} percentile cluster bootstrap (same draws as the effects)",
        alpha, model), p_value=None)
    rho = replace(rho, extra={**rho.extra, "residual_variance_product": sensitivity.residual_variance_product,
                              "total_variance_product": sensitivity.total_variance_product})
    return SpeedMediation(
        effects, paths, replicate_table, controls, flags, ledger,
        {"mediator": mediator, "outcome": outcome, "total": total, "interaction": with_interaction}, len(uniques), notes,
        share_not_estimable=not_estimable, interaction=interaction, sensitivity=sensitivity, robustness=[rho],
        assumptions=mediation_sensitivity.assumptions(
            f"speed x CSAT {words.number(interaction.value, 4, signed=True)} per doubling and point, {words.p_value(interaction.p_value)}"),
    )


def share_reason(total: Estimate, share: Estimate) -> str | None:
    """Why a share of ``total`` is not estimable, or ``None`` (the rule in the module docstring)."""
    if total.ci_low <= 0 <= total.ci_high:
        return (f"the total change among respondents, {words.points(total.value, 2)} per doubling ({total.ci_level:.0%} CI "
                f"{words.points(total.ci_low, 2)[:-3]} to {words.points(total.ci_high, 2)}), includes zero, so a share of it is not estimable")
    if share.ci_low < SHARE_RANGE[0] or share.ci_high > SHARE_RANGE[1]:
        return (f"the share's {share.ci_level:.0%} interval ({words.pct(share.ci_low, 0)} to {words.pct(share.ci_high, 0)}) runs beyond "
                f"{words.pct(SHARE_RANGE[0], 0)} to {words.pct(SHARE_RANGE[1], 0)}: the total is too uncertain for a share of it")
    return None
