"""Synthetic service tickets with a documented data-generating process.

The simulator is the study's measuring instrument: it writes data that carries the traps of real
service data, together with the true effects, so every analysis can be checked against the truth.
The process is documented in ``data/README.md``; the constants below are that document in code.

Design choice: conditional expectations are *exactly linear* in the causes. CSAT is drawn as
``1 + Binomial(4, (m - 1) / 4)`` with every component of ``m`` bounded so that ``m`` stays inside
[1, 5]; repeat purchase is a Bernoulli draw whose probability is linear and bounded inside (0, 1).
Linear regressions with the right controls are therefore unbiased for the stated coefficients, and
the truth needs no approximation. Processes that break one assumption on purpose (agents that
confound, an SLA with a direct effect, heteroskedastic answers) are :mod:`study.data.scenarios`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.data import ceilings, comments
from study.data.scenarios import (
    AGENT_SKILL_EXTRA_CSAT,
    AGENT_SKILL_EXTRA_RESOLVED,
    Scenario,
)
from study.data.scenarios import scenario as _scenario
from study.data.simulated_files import SimulatedStudy, write  # noqa: F401 (public here: study.data.simulate.write)
from study.data.simulated_process import (  # noqa: F401 - the process's constants stay public here
    _lookup,
    _repeat_probability,
    _survey_probability,
    Block,
    CATEGORIES,
    CATEGORY_DELAY,
    CATEGORY_SHARE,
    CHANNEL_DELAY,
    CHANNEL_SHARE,
    CHANNELS,
    CSAT_AGENT_SKILL,
    CSAT_BASE,
    CSAT_CATEGORY,
    CSAT_CHANNEL,
    CSAT_CUSTOMER_SPREAD,
    CSAT_PER_DOUBLING,
    CSAT_REOPENED,
    CSAT_RESOLVED,
    CSAT_TIER,
    DGP_VERSION,
    EXPERIMENT_ID,
    FOLLOW_UP_DAYS,
    PRE_SPEND_NOISE_SD,
    PRE_SPEND_PER_PROPENSITY,
    REOPEN_BASE,
    REOPEN_DEFECT,
    REPEAT_BASE,
    REPEAT_CUSTOMER_SPREAD,
    REPEAT_PER_CSAT_POINT,
    REPEAT_PER_DOUBLING,
    REPEAT_RESOLVED,
    REPEAT_TIER,
    RESOLVED_AGENT_SKILL,
    RESOLVED_BASE,
    RESOLVED_CATEGORY,
    RESPONSE_BASE,
    RESPONSE_CAP_MINUTES,
    RESPONSE_FLOOR_MINUTES,
    RESPONSE_NOISE_SD,
    RESPONSE_PER_DOUBLING,
    RESPONSE_UNRESOLVED,
    SLA_SPEEDUP,
    SURVEY_DATES,
    TIER_DELAY,
    TIER_SHARE,
    TIERS,
)
from study.data.simulated_truth import sample_truth



def _draw_customers(rng: np.random.Generator, n_customers: int, first: int = 1) -> pd.DataFrame:
    tier = rng.choice(TIERS, size=n_customers, p=TIER_SHARE)
    tier_rank = _tier_rank(tier)
    purchase_propensity = rng.uniform(-REPEAT_CUSTOMER_SPREAD, REPEAT_CUSTOMER_SPREAD, n_customers)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(first, first + n_customers)],
            "loyalty_tier": tier,
            "tenure_days": np.round(rng.gamma(2.0, 150.0 * (1 + tier_rank))).astype(int),
            "prior_orders": rng.poisson(1.0 + 2.0 * tier_rank),
            # Pre-period spend shares the latent purchase propensity: the CUPED covariate.
            "pre_spend": np.round(np.exp(ceilings.SPEND_BASE + ceilings.SPEND_PER_TIER * tier_rank
                                         + PRE_SPEND_PER_PROPENSITY * purchase_propensity
                                         + rng.normal(0, PRE_SPEND_NOISE_SD, n_customers)), 2),
            "variant": np.where(rng.random(n_customers) < 0.5, "treatment", "control"),
            "_csat_effect": rng.uniform(-CSAT_CUSTOMER_SPREAD, CSAT_CUSTOMER_SPREAD, n_customers),
            "_purchase_propensity": purchase_propensity,
        }
    )


def _tier_rank(tier: np.ndarray) -> np.ndarray:
    return pd.Series(tier).map({t: i for i, t in enumerate(TIERS)}).to_numpy()


def _response_minutes(log_minutes: np.ndarray) -> np.ndarray:
    return np.minimum(RESPONSE_FLOOR_MINUTES + np.exp(log_minutes), RESPONSE_CAP_MINUTES)


def _csat_mean(log2_hours, resolved, reopened, category, channel, tier, agent_skill, customer_effect, process=None):
    return (
        CSAT_BASE
        + CSAT_PER_DOUBLING * log2_hours
        + CSAT_RESOLVED * resolved
        + CSAT_REOPENED * reopened
        + _lookup(category, CSAT_CATEGORY)
        + _lookup(channel, CSAT_CHANNEL)
        + _lookup(tier, CSAT_TIER)
        + _scenario(process).agent_effect(agent_skill, CSAT_AGENT_SKILL, AGENT_SKILL_EXTRA_CSAT)
        + customer_effect
    )


def simulate(rows: int = 40_000, seed: int = 2026, n_agents: int = 60, scenario: Scenario | str | None = None) -> SimulatedStudy:
    """Draw ``rows`` tickets from the documented data-generating process.

    Parameters
    ----------
    rows : int
        Number of tickets.
    seed : int
        Seed of the random generator; the same seed gives the same data.
    n_agents : int
        Number of service agents.
    scenario : Scenario or str, optional
        A departure from the default process (:mod:`study.data.scenarios`), or a preset's name
        (``"agent-confounding"``, ``"sla-direct-effect"``, ``"heteroskedastic"``). ``None`` is the
        default process. A scenario draws what the default draws, in the same order, so at one seed
        it changes only what it must.

    Returns
    -------
    SimulatedStudy
        The tickets and their true effects.

    See Also
    --------
    study.data.simulate_blocks.write_simulation : writes a simulation of any size in bounded memory.
    """
    block = draw(rows, seed, n_agents, scenario)
    return SimulatedStudy(tickets=block.tickets, truth=sample_truth(block), per_ticket=block.per_ticket)


def draw(rows: int, seed: int, n_agents: int = 60, scenario: Scenario | str | None = None,
         agents: tuple[np.ndarray, np.ndarray] | None = None, first_ticket: int = 1, first_customer: int = 1) -> Block:
    """The draws of :func:`simulate`; a large simulation's blocks (:mod:`study.data.simulate_blocks`) each make one.

    Parameters
    ----------
    rows, seed, n_agents, scenario
        As in :func:`simulate`.
    agents : tuple of numpy.ndarray, optional
        Each agent's skill and speed (log-minutes) when given (:func:`draw_agents`): the blocks of a large
        simulation share one population of agents. The seed's own agents are still drawn, so every other draw
        is the same as without.
    first_ticket, first_customer : int
        Numbers of the first ticket and customer ids (blocks number theirs after the blocks before them).
    """
    process = _scenario(scenario)
    rng = np.random.default_rng(seed)

    n_customers = customers_for(rows)
    customers = _draw_customers(rng, n_customers, first_customer)
    per_customer = 1 + rng.poisson(0.6, n_customers)
    owner = np.repeat(np.arange(n_customers), per_customer)
    while owner.size < rows:  # rare: too few tickets drawn for a tiny sample
        owner = np.concatenate([owner, rng.integers(0, n_customers, rows - owner.size)])
    owner = np.sort(owner[:rows])
    t = customers.iloc[owner].reset_index(drop=True)

    agent_skill = rng.uniform(-1, 1, n_agents)
    # Independent of skill in the default process: agents cluster speed but do not confound it.
    agent_speed = rng.normal(0, 0.25, n_agents)
    if agents is not None:
        agent_skill, agent_speed = agents
    if process.agent_log_minutes:
        agent_speed = agent_speed + process.agent_log_minutes * agent_skill
    agent = rng.integers(0, n_agents, rows)
    skill = agent_skill[agent]

    category = rng.choice(CATEGORIES, size=rows, p=CATEGORY_SHARE)
    channel = rng.choice(CHANNELS, size=rows, p=CHANNEL_SHARE)
    tier = np.asarray(t["loyalty_tier"].to_numpy(), dtype=str)
    treated = (t["variant"] == "treatment").to_numpy()

    # Potential first response times under control and treatment share the same noise.
    log_minutes_control = (
        np.log(60.0)
        + _lookup(category, CATEGORY_DELAY)
        + _lookup(channel, CHANNEL_DELAY)
        + _lookup(tier, TIER_DELAY)
        + agent_speed[agent]
        + rng.normal(0, RESPONSE_NOISE_SD, rows)
    )
    minutes_control = _response_minutes(log_minutes_control)
    minutes_treated = _response_minutes(log_minutes_control - np.log(SLA_SPEEDUP))
    first_response_minutes = np.where(treated, minutes_treated, minutes_control)

    # Potential resolution and reopening under either arm share their draws (they differ only
    # under a scenario in which the SLA moves resolution).
    p_resolved = (
        RESOLVED_BASE + _lookup(category, RESOLVED_CATEGORY)
        + process.agent_effect(skill, RESOLVED_AGENT_SKILL, AGENT_SKILL_EXTRA_RESOLVED)
    )
    resolved_draw = rng.random(rows)
    resolved_arms = (resolved_draw < p_resolved, resolved_draw < p_resolved + process.sla_resolved_shift)
    reopen_draw = rng.random(rows) < REOPEN_BASE + REOPEN_DEFECT * (category == "product_defect")
    reopened_arms = tuple(r & reopen_draw for r in resolved_arms)
    resolved, reopened = (np.where(treated, arms[1], arms[0]) for arms in (resolved_arms, reopened_arms))
    contacts = 1 + rng.poisson(0.3 + 0.8 * ~resolved + 0.5 * reopened)
    work_minutes = np.exp(np.log(90.0) + 0.5 * _lookup(category, CATEGORY_DELAY) + rng.normal(0, 0.8, rows))
    resolution_minutes = np.where(resolved, first_response_minutes + work_minutes * contacts, np.nan)
    quality_latent = 70 + 10 * skill + rng.normal(0, 8, rows)
    quality_arms = (np.clip(np.round(quality_latent), 0, 100), np.clip(np.round(quality_latent + process.sla_quality_shift), 0, 100))
    quality_score = np.where(treated, quality_arms[1], quality_arms[0])

    customer_effect = t["_csat_effect"].to_numpy()
    m_control, m_treated = (
        _csat_mean(np.log2(minutes / 60.0), resolved_arms[arm], reopened_arms[arm], category, channel, tier, skill,
                   customer_effect, process) + arm * process.sla_direct_effect
        for arm, minutes in enumerate((minutes_control, minutes_treated))
    )
    m = np.where(treated, m_treated, m_control)
    csat_all = 1 + rng.binomial(4, (m - 1) / 4)

    log2_hours = np.log2(first_response_minutes / 60.0)
    if process.heteroskedastic:
        # The scenario's own draws come from a second generator: the default stream stays as it is.
        extra = np.random.default_rng([seed, 1])
        polarized = extra.random(rows) < process.polarized_share(log2_hours, RESPONSE_FLOOR_MINUTES, RESPONSE_CAP_MINUTES)
        csat_all = np.where(polarized, np.where(extra.random(rows) < (m - 1) / 4, 5, 1), csat_all)
    answered = rng.random(rows) < _survey_probability(log2_hours, resolved)

    propensity = t["_purchase_propensity"].to_numpy()
    p_repeat = _repeat_probability(csat_all, log2_hours, resolved, tier, propensity)
    repeat = rng.random(rows) < p_repeat
    days_to_next = np.where(
        repeat, np.minimum(FOLLOW_UP_DAYS, 1 + np.floor(rng.exponential(25.0, rows))), FOLLOW_UP_DAYS
    ).astype(int)
    spend_log_mean = np.log(40.0) + 0.3 * np.log(t["pre_spend"].to_numpy())
    next_spend = np.where(repeat, np.round(np.exp(spend_log_mean + rng.normal(0, 0.8, rows)), 2), 0.0)

    start, end = (pd.Timestamp(d).value for d in SURVEY_DATES)
    created_at = pd.to_datetime(np.sort(rng.integers(start, end, rows)), unit="ns").floor("s")
    created_at = created_at[rng.permutation(rows)]

    comment, themes = comments.draw(seed, answered, log2_hours, resolved, skill, category, resolution_minutes)
    per_ticket = themes.assign(
        repeat_probability=p_repeat,
        repeat_probability_at_contact=_repeat_probability(
            np.where(answered, csat_all, m - customer_effect), log2_hours, resolved, tier,
            ceilings.propensity_given(t["pre_spend"].to_numpy(), _tier_rank(tier), PRE_SPEND_PER_PROPENSITY,
                                     PRE_SPEND_NOISE_SD, REPEAT_CUSTOMER_SPREAD)),
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": [f"T{i:07d}" for i in range(first_ticket, first_ticket + rows)],
            "customer_id": t["customer_id"].to_numpy(),
            "agent_id": [f"A{a + 1:03d}" for a in agent],
            "created_at": created_at,
            "channel": channel,
            "category": category,
            "loyalty_tier": tier,
            "tenure_days": t["tenure_days"].to_numpy(),
            "prior_orders": t["prior_orders"].to_numpy(),
            "pre_spend": t["pre_spend"].to_numpy(),
            "order_value": np.round(np.exp(np.log(60.0) + rng.normal(0, 0.7, rows)), 2),
            "experiment_id": EXPERIMENT_ID,
            "variant": t["variant"].to_numpy(),
            "first_response_minutes": np.round(first_response_minutes, 1),
            "resolution_minutes": np.round(resolution_minutes, 1),
            "resolved": resolved,
            "reopened": reopened,
            "contacts": contacts,
            "quality_score": quality_score,
            "csat": pd.Series(csat_all, dtype="Int64").where(answered).array,
            "repeat_purchase": repeat,
            "days_to_next_purchase": days_to_next,
            "next_spend": next_spend,
            "comment": pd.array(comment, dtype="string"),
        }
    )
    order = np.argsort(tickets["created_at"].to_numpy(), kind="stable")
    tickets = tickets.iloc[order].reset_index(drop=True)
    per_ticket = per_ticket.iloc[order].reset_index(drop=True)

    inputs = dict(seed=seed, rows=rows, treated=treated, minutes=(minutes_control, minutes_treated),
                  csat_means=(m_control, m_treated), resolved=resolved_arms, tier=tier, propensity=propensity,
                  spend_log_mean=spend_log_mean, process=process, quality=quality_arms)
    return Block(tickets=tickets, per_ticket=per_ticket, comment=comment[order], truth_inputs=inputs)


def customers_for(rows: int) -> int:
    """Customers drawn for ``rows`` tickets: they have 1 + Poisson(0.6) tickets, so enough to cut ``rows`` from."""
    return max(1, int(rows / 1.6) + 10)


def draw_agents(seed: int, n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Skill and speed of one population of agents drawn from the stream ``default_rng([seed, 3])`` (as
    :func:`draw` draws its own)."""
    rng = np.random.default_rng([seed, 3])
    return rng.uniform(-1, 1, n_agents), rng.normal(0, 0.25, n_agents)
