"""The data-generating process's constants and the few functions of it the truth also needs.

:mod:`study.data.simulate` draws tickets with them, :mod:`study.data.simulated_truth` computes what the
analyses should find from them; both read them here, so neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DGP_VERSION = "1"

CATEGORIES = ["shipping", "returns", "billing", "product_defect", "account"]
CATEGORY_SHARE = [0.35, 0.20, 0.15, 0.20, 0.10]
CHANNELS = ["chat", "email", "phone"]
CHANNEL_SHARE = [0.45, 0.35, 0.20]
TIERS = ["bronze", "silver", "gold"]
TIER_SHARE = [0.60, 0.30, 0.10]

# First response time: log-minutes around one hour, shifted by these amounts.
CATEGORY_DELAY = {"shipping": 0.0, "returns": 0.2, "billing": 0.3, "product_defect": 0.9, "account": -0.1}
CHANNEL_DELAY = {"chat": -1.2, "email": 0.6, "phone": -0.8}
TIER_DELAY = {"bronze": 0.0, "silver": -0.3, "gold": -0.6}
RESPONSE_NOISE_SD = 0.9
# Nobody is answered in under 4 minutes (routing, reading): minutes = 4 + log-normal, capped at 72 hours.
RESPONSE_FLOOR_MINUTES = 4.0
RESPONSE_CAP_MINUTES = 72 * 60.0

# CSAT mean m (points on the 1-5 scale).
CSAT_BASE = 3.05
CSAT_PER_DOUBLING = -0.15  # effect of doubling the first response time
CSAT_RESOLVED = 0.80
CSAT_REOPENED = -0.30
CSAT_CATEGORY = {"shipping": 0.0, "returns": -0.10, "billing": -0.15, "product_defect": -0.35, "account": 0.05}
CSAT_CHANNEL = {"chat": 0.10, "email": 0.0, "phone": 0.05}
CSAT_TIER = {"bronze": 0.0, "silver": 0.05, "gold": 0.10}
CSAT_AGENT_SKILL = 0.10  # times agent skill in [-1, 1]
CSAT_CUSTOMER_SPREAD = 0.20  # customer effect uniform in [-spread, spread]

# Resolution (probability, linear).
RESOLVED_BASE = 0.85
RESOLVED_CATEGORY = {"shipping": 0.0, "returns": -0.05, "billing": -0.10, "product_defect": -0.25, "account": 0.03}
RESOLVED_AGENT_SKILL = 0.05
REOPEN_BASE = 0.08
REOPEN_DEFECT = 0.06

# Survey response: unhappy experiences answer more often (depends on what the customer lived).
RESPONSE_BASE = 0.30
RESPONSE_UNRESOLVED = 0.15
RESPONSE_PER_DOUBLING = 0.03

# Repeat purchase within the follow-up window (probability, linear).
FOLLOW_UP_DAYS = 90
REPEAT_BASE = 0.30
REPEAT_PER_CSAT_POINT = 0.06  # per CSAT point above 3
REPEAT_PER_DOUBLING = -0.01  # direct effect of speed, not through satisfaction
REPEAT_RESOLVED = 0.05
REPEAT_TIER = {"bronze": 0.0, "silver": 0.05, "gold": 0.12}
REPEAT_CUSTOMER_SPREAD = 0.08
# Log pre-period spend carries the propensity: the CUPED covariate, and what a model can learn of it.
PRE_SPEND_PER_PROPENSITY = 6.0
PRE_SPEND_NOISE_SD = 0.5

# The randomized SLA experiment: treated customers' tickets are answered twice as fast.
EXPERIMENT_ID = "sla-2026h1"
SLA_SPEEDUP = 2.0
SURVEY_DATES = ("2026-01-01", "2026-07-01")


def _lookup(values: np.ndarray, table: dict) -> np.ndarray:
    # A binary search among the few keys (a per-row map was most of a large simulation's time).
    keys = np.array(sorted(table))
    return np.array([table[k] for k in keys], dtype=float)[np.searchsorted(keys, np.asarray(values, dtype=keys.dtype))]


def _repeat_probability(csat_points, log2_hours, resolved, tier, propensity):
    return (
        REPEAT_BASE
        + REPEAT_PER_CSAT_POINT * (csat_points - 3.0)
        + REPEAT_PER_DOUBLING * log2_hours
        + REPEAT_RESOLVED * resolved
        + _lookup(tier, REPEAT_TIER)
        + propensity
    )


def _survey_probability(log2_hours, resolved):
    return RESPONSE_BASE + RESPONSE_UNRESOLVED * (1 - resolved) + RESPONSE_PER_DOUBLING * log2_hours


@dataclass(frozen=True)
class Block:
    """One draw of the process: the tickets, what no file holds of them, and what their truth is computed from.

    Attributes
    ----------
    tickets, per_ticket : pandas.DataFrame
        As in :class:`SimulatedStudy` (row for row, in the order of the file).
    comment : numpy.ndarray
        Each ticket's comment (``None`` without one), in the order of the file.
    truth_inputs : dict
        The keyword arguments of :func:`study.data.simulated_truth.true_effects`.
    """

    tickets: pd.DataFrame
    per_ticket: pd.DataFrame
    comment: np.ndarray
    truth_inputs: dict
