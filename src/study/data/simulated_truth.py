"""The truth of a simulation: the process's parameters, and the effects in the sample that was drawn.

The structural coefficients are constants of the process (:mod:`study.data.simulate`). The experiment's effects
are sample quantities: means over the tickets, and means among survey respondents, of the difference between
each ticket's expected outcome under treatment and under control. Each is a ratio of sums over tickets
(:func:`effect_sums`), so the sums of independent blocks add up to those of their union
(:mod:`study.data.simulate_blocks`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.data import ceilings, comments
from study.data.scenarios import scenario as _scenario
from study.data.simulated_process import (
    CSAT_PER_DOUBLING,
    CSAT_REOPENED,
    CSAT_RESOLVED,
    DGP_VERSION,
    REPEAT_PER_CSAT_POINT,
    REPEAT_PER_DOUBLING,
    REPEAT_RESOLVED,
    SLA_SPEEDUP,
    Block,
    _repeat_probability,
    _survey_probability,
)


def sample_truth(block: Block) -> dict:
    """The truth of one block's tickets: :func:`true_effects` and the ceilings and comment themes of the sample."""
    truth = true_effects(**block.truth_inputs)
    repeat = block.tickets["repeat_purchase"].to_numpy()
    per_ticket, comment = block.per_ticket, block.comment
    truth.update(
        repeat_auc_ceiling=ceilings.auc(repeat, per_ticket["repeat_probability"].to_numpy()),
        repeat_auc_ceiling_at_contact=ceilings.auc(repeat, per_ticket["repeat_probability_at_contact"].to_numpy()),
        comment_share=float(pd.notna(comment).mean()),
        comment_theme_share=comments.theme_shares(per_ticket, comment),
        comment_themes_by_ticket=comments.tickets_by_theme(per_ticket, block.tickets["ticket_id"]),
    )
    return truth


def true_effects(*, seed, rows, treated, minutes, csat_means, resolved, tier, propensity, spend_log_mean,
                 process=None, quality=None) -> dict:
    """True effects of the process, exact in expectation over the outcome noise.

    The structural coefficients are the constants of the process. The experiment's effects are
    averages over this sample's tickets of the difference between each ticket's expected outcome
    under treatment and under control (the SLA halves the wait beyond the 4-minute floor, so the
    first response time falls by a little less than one doubling). ``resolved`` (and ``quality``)
    are each ticket's outcomes under control and under treatment (the same in the default process).
    """
    sums = effect_sums(treated=treated, minutes=minutes, csat_means=csat_means, resolved=resolved, tier=tier,
                       propensity=propensity, spend_log_mean=spend_log_mean, quality=quality)
    return effects_from_sums(seed, rows, process, sums)


def effect_sums(*, treated, minutes, csat_means, resolved, tier, propensity, spend_log_mean, quality=None,
                **_) -> dict:
    """The sums over tickets that the sample's true effects are ratios of (:func:`effects_from_sums`).

    Every sample effect is a mean or a mean among respondents (a ratio of two sums), so the sums of
    independent blocks add up to the sums of their union. Arguments as in :func:`true_effects`.
    """
    resolved_c, resolved_t = resolved if isinstance(resolved, tuple) else (resolved, resolved)
    log2_c, log2_t = (np.log2(x / 60.0) for x in minutes)
    m_c, m_t = csat_means
    survey_c, survey_t = _survey_probability(log2_c, resolved_c), _survey_probability(log2_t, resolved_t)
    repeat_c = _repeat_probability(m_c, log2_c, resolved_c, tier, propensity)
    repeat_t = _repeat_probability(m_t, log2_t, resolved_t, tier, propensity)
    expected_spend = np.exp(spend_log_mean + 0.8**2 / 2)
    # What the SLA would do through speed alone: the treated arm's wait, everything else as under control.
    m_speed = m_c + CSAT_PER_DOUBLING * (log2_t - log2_c)
    survey_speed = _survey_probability(log2_t, resolved_c)
    m_seen, survey_seen = np.where(treated, m_t, m_c), np.where(treated, survey_t, survey_c)
    sums = {
        "tickets": int(np.size(log2_c)),
        "log2_shift": np.sum(log2_t - log2_c),
        "csat_treated_respondents": np.sum(m_t * survey_t), "respondents_treated": np.sum(survey_t),
        "csat_control_respondents": np.sum(m_c * survey_c), "respondents_control": np.sum(survey_c),
        "csat_speed_respondents": np.sum(m_speed * survey_speed), "respondents_speed": np.sum(survey_speed),
        "log2_speed_respondents": np.sum(log2_t * survey_speed), "log2_control_respondents": np.sum(log2_c * survey_c),
        "csat_shift": np.sum(m_t - m_c),
        "quality_shift": 0.0 if quality is None else np.sum(quality[1] - quality[0]),
        "repeat_shift": np.sum(repeat_t - repeat_c),
        "spend_shift": np.sum((repeat_t - repeat_c) * expected_spend),
        "csat_seen": np.sum(m_seen), "csat_seen_respondents": np.sum(m_seen * survey_seen),
        "respondents_seen": np.sum(survey_seen),
        "repeat_control": np.sum(repeat_c),
    }
    return {k: v if isinstance(v, int) else float(v) for k, v in sums.items()}


def effects_from_sums(seed: int, rows: int, process, sums: dict) -> dict:
    """The true effects (:func:`true_effects`) from the sums of :func:`effect_sums` (of one sample, or added up)."""
    process = _scenario(process)
    n = sums["tickets"]
    # The IV estimand among respondents is the SLA's effect through speed alone on CSAT over its effect on the
    # wait, both among the respondents of each arm (faster replies are answered less often, so the two arms'
    # respondents differ and the ratio is not the structural slope).
    randomized_respondents = (
        (sums["csat_speed_respondents"] / sums["respondents_speed"]
         - sums["csat_control_respondents"] / sums["respondents_control"])
        / (sums["log2_speed_respondents"] / sums["respondents_speed"]
           - sums["log2_control_respondents"] / sums["respondents_control"])
    )
    control_csat = sums["csat_control_respondents"] / sums["respondents_control"]
    return {
        "dgp_version": DGP_VERSION,
        "seed": seed,
        "rows": rows,
        "scenario": process.as_dict(),
        "csat_per_doubling_response_time": CSAT_PER_DOUBLING,
        # Speed moves neither resolution nor reopening in any scenario: its total effect is its direct one.
        "csat_total_per_doubling_response_time": CSAT_PER_DOUBLING,
        "csat_resolved": CSAT_RESOLVED,
        "csat_reopened": CSAT_REOPENED,
        "repeat_per_csat_point": REPEAT_PER_CSAT_POINT,
        "repeat_direct_per_doubling_response_time": REPEAT_PER_DOUBLING,
        "repeat_indirect_per_doubling_response_time": CSAT_PER_DOUBLING * REPEAT_PER_CSAT_POINT,
        "repeat_total_per_doubling_response_time": REPEAT_PER_DOUBLING + CSAT_PER_DOUBLING * REPEAT_PER_CSAT_POINT,
        "repeat_direct_resolved": REPEAT_RESOLVED,
        "repeat_total_resolved": REPEAT_RESOLVED + CSAT_RESOLVED * REPEAT_PER_CSAT_POINT,
        "sla_speedup_factor": SLA_SPEEDUP,
        # What the randomized (IV) estimate targets: among respondents, through speed alone (see above).
        "csat_per_doubling_randomized_respondents": float(randomized_respondents),
        "sla_effect_on_log2_response_hours": sums["log2_shift"] / n,
        "sla_effect_on_csat": sums["csat_treated_respondents"] / sums["respondents_treated"] - control_csat,
        "sla_effect_on_csat_all_tickets": sums["csat_shift"] / n,
        "sla_direct_effect_on_csat": process.sla_direct_effect,
        # The probability of resolution moves by the same amount for every ticket (it stays inside [0, 1]).
        "sla_effect_on_resolved": process.sla_resolved_shift,
        "sla_effect_on_quality_score": sums["quality_shift"] / n,
        "sla_effect_on_repeat_purchase": sums["repeat_shift"] / n,
        "sla_effect_on_next_spend": sums["spend_shift"] / n,
        "csat_mean_all_tickets": sums["csat_seen"] / n,
        "csat_mean_respondents": sums["csat_seen_respondents"] / sums["respondents_seen"],
        "control_csat_mean": control_csat,
        "control_repeat_rate": sums["repeat_control"] / n,
        "survey_response_rate": sums["respondents_seen"] / n,
        "notes": (
            "CSAT effects are in points on the 1-5 scale, repeat-purchase effects in probability "
            "(0.01 = 1 percentage point); 'per doubling' is per doubling of the first response time. "
            "sla_effect_on_csat is among survey respondents, which is what an A/B comparison of "
            "answered surveys estimates."
        ),
    }
