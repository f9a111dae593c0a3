"""The simulator's true effects, found beside a simulated data file."""

from __future__ import annotations

import json
from pathlib import Path

from study import config
from study.data.io import Source

TRUTH_FILE = "truth.json"


def for_data(data_path: str | Path, source: Source) -> dict | None:
    """The ``truth.json`` written by :func:`study.data.simulate.write` beside ``data_path``, if it belongs to it.

    A truth file is used only when it records this very file's fingerprint, so a stray truth file
    next to real data (or next to another simulation) is never mistaken for the truth.

    Parameters
    ----------
    data_path : str or Path
        The data file analysed.
    source : study.core.results.Source
        Facts of the data as read.

    Returns
    -------
    dict or None
        The true effects, or ``None`` for data that is not a simulation.
    """
    path = Path(config.input_path(data_path)).parent / TRUTH_FILE
    if not path.is_file():
        return None
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if "dgp_version" not in truth or truth.get("data_fingerprint") != source.fingerprint:
        return None
    return truth


def expected_values(truth: dict | None) -> dict[str, float]:
    """The true value of each named estimate of 02-04 and 09, where the simulation defines one.

    A rollout's truth (``study.data.rollout``) holds the rollout's effects only: 07 reads those itself, and
    02-04 get nothing to compare with, since that process's trends confound their slopes by design.
    """
    if not truth or "csat_per_doubling_response_time" not in truth:
        return {}
    import math

    # Here, not at the top: the runner imports this module for TRUTH_FILE, and its workers must not
    # pay for statsmodels (which these modules import) before a kernel needs it.
    from study.regression import mediation, nonresponse

    per_doubling = truth["csat_per_doubling_response_time"]
    return {
        "csat_per_doubling_naive": per_doubling,
        "csat_per_doubling_adjusted": per_doubling,
        "csat_per_doubling_total_adjusted": truth.get("csat_total_per_doubling_response_time", per_doubling),
        "csat_24h_vs_1h_adjusted": per_doubling * math.log2(24),
        "csat_resolved_adjusted": truth["csat_resolved"],
        "csat_reopened_adjusted": truth["csat_reopened"],
        "repeat_per_doubling_total": truth["repeat_total_per_doubling_response_time"],
        "repeat_per_doubling_direct": truth["repeat_direct_per_doubling_response_time"],
        "repeat_per_csat_point": truth["repeat_per_csat_point"],
        "repeat_resolved_direct": truth["repeat_direct_resolved"],
        "repeat_resolved_total": truth["repeat_total_resolved"],
        "csat_effect_treatment_vs_control": truth["sla_effect_on_csat"],
        "repeat_purchase_effect_treatment_vs_control": truth["sla_effect_on_repeat_purchase"],
        "response_log2_hours_effect_treatment_vs_control": truth["sla_effect_on_log2_response_hours"],
        # Among respondents, whom the SLA changes (faster replies are answered less often): not the structural slope.
        # Older truth files lack the key; the structural slope is then the nearest truth there is.
        "csat_per_doubling_randomized": truth.get("csat_per_doubling_randomized_respondents", per_doubling),
        "csat_per_doubling_resolved": per_doubling,
        "csat_per_doubling_unresolved": per_doubling,
        "csat_speed_x_resolved": 0.0,
        # 09's scenario model is the total effect of speed; the SLA's Wald ratio is that effect too (speed moves
        # nothing else in these processes), and halving every wait is one doubling fewer.
        "repeat_per_doubling_scenario_model": truth["repeat_total_per_doubling_response_time"],
        "repeat_per_doubling_randomized": (truth["sla_effect_on_repeat_purchase"]
                                           / truth["sla_effect_on_log2_response_hours"]),
        "repeat_rate_change_response_halved": -truth["repeat_total_per_doubling_response_time"],
        **mediation.expected_values(truth),
        **nonresponse.expected_values(truth),
    }
